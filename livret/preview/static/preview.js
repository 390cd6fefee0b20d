// The preview page: draws the state the server pushes (server-sent events) and changes only
// what changed: an image whose page is the same keeps its element, so nothing reloads.
"use strict";
(function () {
  const L = window.LIVRET_LABELS;
  const docs = document.getElementById("docs");
  const list = document.getElementById("outputs");
  const banner = document.getElementById("banner");
  const status = document.getElementById("status");
  const viewer = document.getElementById("viewer");
  const viewerPage = document.getElementById("viewer-page");
  const viewerTitle = document.getElementById("viewer-title");
  const closeButton = document.getElementById("viewer-close");
  const plural = new Intl.PluralRules(document.documentElement.lang || "fr");
  let current = { outputs: [] };  // the last state drawn
  let open = null;  // the page shown at full width: { name, index }
  let scrolled = true;  // the first changed page of this build brought into view already
  let wasBuilding = true;  // the first build marks nothing
  document.getElementById("banner-title").textContent = L.problems;
  closeButton.textContent = L.close;

  function pages(n) {
    return (plural.select(n) === "one" ? L.pages_one : L.pages_other).replace("{n}", n);
  }

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
    s.querySelector(".title").textContent = doc.title + " — " + pages(doc.pages.length);
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
        // A button: the mouse and the keyboard (Enter, Space) open the page at full width.
        const button = el("button", { type: "button", class: "page" });
        button.append(el("img", { alt: L.page.replace("{number}", n) }));
        button.addEventListener("click", function () { show(doc.name, n - 1, true); });
        fig.append(button, el("figcaption", {}, String(n)));
        box.append(fig);
      }
      const img = fig.querySelector("img");
      if (img.getAttribute("src") !== src) img.setAttribute("src", src);
      fig.classList.toggle("changed", changed.has(n));
      fig.title = changed.has(n) ? L.changed : "";
    });
    while (box.children.length > doc.pages.length) box.lastElementChild.remove();
  }

  // --- one page at full width, in a modal dialog: Escape, the close button or the
  // browser's Back closes it, and the focus goes back to the page's button.
  function show(name, index, push) {
    const doc = current.outputs.find(function (d) { return d.name === name; });
    if (!doc || index >= doc.pages.length) { hide(false); return; }
    open = { name: name, index: index };
    if (viewerPage.getAttribute("src") !== doc.pages[index]) {
      viewerPage.setAttribute("src", doc.pages[index]);
    }
    viewerPage.alt = L.page.replace("{number}", index + 1);
    viewerTitle.textContent = doc.title + " — " + L.page.replace("{number}", index + 1);
    if (!viewer.open) {
      if (push) history.pushState({ livretPage: open }, "");
      viewer.showModal();
      closeButton.focus();
    }
  }

  function hide(back) {
    if (!viewer.open) return;
    const was = open;
    open = null;
    viewer.close();
    if (back && history.state && history.state.livretPage) history.back();
    const section = was && document.getElementById("doc-" + was.name);
    const button = section && section.querySelectorAll("button.page")[was.index];
    if (button) button.focus();
  }

  closeButton.addEventListener("click", function () { hide(true); });
  viewer.addEventListener("cancel", function (e) { e.preventDefault(); hide(true); });  // Escape
  window.addEventListener("popstate", function () { hide(false); });

  function draw(state) {
    current = state;
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
    if (open) show(open.name, open.index, false);  // the page shown follows the saves
    // After a save, the first changed page comes into view, once per build.
    if (state.building && !wasBuilding) scrolled = false;  // a new build
    wasBuilding = state.building;
    const changed = document.querySelector("figure.changed");
    if (!scrolled && changed && !open) {
      changed.scrollIntoView({ block: "center" });
      scrolled = true;
    }
    document.body.dataset.generation = state.generation;
    document.body.dataset.building = state.building;
    document.dispatchEvent(new CustomEvent("livret:state", { detail: state }));
  }

  const events = new EventSource("events");
  events.addEventListener("state", function (e) { draw(JSON.parse(e.data)); });
  // The browser reconnects by itself; until then, say that the pages are no longer updated.
  events.onerror = function () { status.textContent = L.disconnected; };
})();
