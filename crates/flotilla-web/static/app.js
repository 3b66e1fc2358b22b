// flotilla web UI: progressive enhancement only; every page works without it.
// - "/" focuses the search box; j/k move through table rows; Enter opens the
//   selected row's first link; n follows the "next page" link.
// - Forms marked data-live search as you type: the results section is
//   fetched as a fragment and swapped in, and the URL follows the search.
"use strict";

(function () {
  function rows() {
    const table = document.querySelector("table.nav-rows");
    return table ? Array.from(table.tBodies[0] ? table.tBodies[0].rows : []) : [];
  }
  let current = -1;
  function select(i) {
    const all = rows();
    if (all.length === 0) return;
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((r, j) => r.classList.toggle("selected", j === current));
    all[current].scrollIntoView({ block: "nearest" });
  }
  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA");
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    if (e.key === "/") {
      const box = document.querySelector("form[data-live] input[type=search]") ||
        document.querySelector("input[data-shortcut='/']");
      if (box) { e.preventDefault(); box.focus(); box.select(); }
    } else if (e.key === "j") {
      select(current + 1);
    } else if (e.key === "k") {
      select(current - 1);
    } else if (e.key === "Enter" && current >= 0) {
      const link = rows()[current] && rows()[current].querySelector("a[href]");
      if (link) { e.preventDefault(); link.click(); }
    } else if (e.key === "n") {
      const next = document.querySelector("a[rel=next]");
      if (next) next.click();
    }
  });

  function live(form) {
    const targetId = form.getAttribute("data-live");
    let timer = null;
    let seq = 0;
    function run() {
      const params = new URLSearchParams(new FormData(form));
      for (const [k, v] of Array.from(params.entries())) if (v === "") params.delete(k);
      const url = form.getAttribute("action") + (params.toString() ? "?" + params.toString() : "");
      const mine = ++seq;
      const fragment = new URLSearchParams(params);
      fragment.set("fragment", targetId);
      fetch(form.getAttribute("action") + "?" + fragment.toString(), { headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          if (mine !== seq) return;
          const target = document.getElementById(targetId);
          if (!target) return;
          const doc = new DOMParser().parseFromString(html, "text/html");
          const fresh = doc.getElementById(targetId);
          if (fresh) { target.replaceWith(fresh); current = -1; }
          history.replaceState(null, "", url);
        })
        .catch(function () { /* keep the old results; submitting the form still works */ });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, 150);
    });
  }
  document.querySelectorAll("form[data-live]").forEach(live);
})();
