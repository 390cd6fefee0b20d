// The preview page: draws the state the server pushes (server-sent events) and changes only
// what changed: an image whose page is the same keeps its element, so nothing reloads.
"use strict";
(function () {
  const L = window.LIVRET_LABELS;
  const docs = document.getElementById("docs");
  const list = document.getElementById("outputs");
  const banner = document.getElementById("banner");
  const status = document.getElementById("status");
  document.getElementById("banner-title").textContent = L.problems;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function section(doc) {
    const id = "doc-" + doc.name;
    let s = document.getElementById(id);
    if (!s) {
      s = el("section", { id: id, "data-name": doc.name, "data-kind": doc.kind });
      const h = el("h2");
      h.append(el("span", { class: "title" }), el("a", { href: "pdf/" + encodeURIComponent(doc.name), download: doc.name }, L.download));
      s.append(h, el("div", { class: "pages" }));
    }
    s.querySelector(".title").textContent = doc.title + " — " + doc.pages.length + " " + L.pages;
    return s;
  }

  function drawPages(s, doc) {
    const box = s.querySelector(".pages");
    const changed = new Set(doc.changed);
    doc.pages.forEach(function (src, i) {
      const n = i + 1;
      let fig = box.children[i];
      if (!fig) {
        fig = el("figure", { "data-page": n });
        const img = el("img", { alt: L.page.replace("{number}", n)});
        fig.append(img, el("figcaption", {}, String(n)));
        box.append(fig);
      }
      const img = fig.querySelector("img");
      if (img.getAttribute("src") !== src) img.setAttribute("src", src);
      fig.classList.toggle("changed", changed.has(n));
      fig.title = changed.has(n) ? L.changed : "";
    });
    while (box.children.length > doc.pages.length) box.lastElementChild.remove();
  }

  function draw(state) {
    const names = state.outputs.map(function (d) { return d.name; });
    state.outputs.forEach(function (doc, i) {
      const s = section(doc);
      drawPages(s, doc);
      if (docs.children[i] !== s) docs.insertBefore(s, docs.children[i] || null);
    });
    Array.from(docs.children).forEach(function (s) {
      if (!names.includes(s.dataset.name)) s.remove();
    });
    list.replaceChildren.apply(list, state.outputs.map(function (doc) {
      const li = el("li");
      li.append(el("a", { href: "#doc-" + doc.name }, doc.title), " (" + doc.pages.length + ") ");
      if (doc.changed.length) li.append(el("span", { class: "changed-mark", title: L.changed }, "●"));
      return li;
    }));
    (state.sites || []).forEach(function (site) {
      const li = el("li", { class: "site" });
      li.append(el("a", { href: site.href }, L.site), " — " + site.title);
      list.append(li);
    });
    banner.hidden = state.problems.length === 0;
    document.getElementById("problems").textContent = state.problems.join("\n");
    status.textContent = state.building ? L.building : "";
    document.body.dataset.generation = state.generation;
    document.body.dataset.building = state.building;
    document.dispatchEvent(new CustomEvent("livret:state", { detail: state }));
  }

  const events = new EventSource("events");
  events.addEventListener("state", function (e) { draw(JSON.parse(e.data)); });
  // The browser reconnects by itself; until then, say that the pages are no longer updated.
  events.onerror = function () { status.textContent = L.disconnected; };
})();
