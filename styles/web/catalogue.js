/* The catalogue's filters and search: the list is complete without this script; with it,
   the form appears and hides the cards that do not match. The search index
   (catalogue/recherche.json) is built with the site: no server, nothing sent anywhere. */
(function () {
  "use strict";
  var form = document.getElementById("filtres");
  var list = document.getElementById("fiches");
  var count = document.getElementById("compte");
  if (!form || !list) { return; }
  var script = document.currentScript;
  var items = Array.prototype.slice.call(list.children);
  var texts = null;
  function fold(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function loadIndex() {
    if (texts !== null || !window.fetch) { return; }
    texts = {};
    fetch(script.getAttribute("data-index")).then(function (r) { return r.json(); })
      .then(function (index) {
        index.forEach(function (c) { texts[c.path] = fold(c.text + " " + c.title + " " + c.org); });
        apply();
      }).catch(function () { texts = {}; });
  }
  function apply() {
    var words = fold(form.q.value).split(/\s+/).filter(Boolean);
    var theme = form.theme.value, place = form.place.value, pub = form.public.value;
    var shown = 0;
    items.forEach(function (li) {
      var text = (texts && texts[li.dataset.path]) || fold(li.textContent);
      var publics = JSON.parse(li.dataset.public || "[]");
      var ok = (!theme || li.dataset.theme === theme) && (!place || li.dataset.place === place) &&
        (!pub || publics.indexOf(pub) !== -1) &&
        words.every(function (w) { return text.indexOf(w) !== -1; });
      li.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + (shown > 1 ? " fiches affichées" : " fiche affichée") +
      " sur " + items.length + ".";
  }
  form.hidden = false;
  form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.q.addEventListener("focus", loadIndex);
  var params = new URLSearchParams(window.location.search);
  ["q", "theme", "place", "public"].forEach(function (k) {
    if (params.get(k)) { form[k].value = params.get(k); }
  });
  if (params.get("q")) { loadIndex(); }
  apply();
}());
