// Live parts of the dashboard: an element with data-poll="URL" is replaced every
// data-every milliseconds by the element of the same id that URL returns. Polling
// stops when the new element has no data-poll (a finished deployment) or the
// session has ended. No framework, no build step.
(function () {
  "use strict";

  function schedule(el) {
    var every = parseInt(el.getAttribute("data-every") || "2000", 10);
    window.setTimeout(function () { refresh(el.id); }, Math.max(every, 500));
  }

  function refresh(id) {
    var el = document.getElementById(id);
    if (!el || !el.hasAttribute("data-poll")) return;
    if (document.hidden) { schedule(el); return; }
    // Not while someone fills in a confirmation inside it (a rollback's reason).
    if (el.querySelector("details[open]") || el.contains(document.activeElement)) {
      schedule(el);
      return;
    }
    var controller = new AbortController();
    var timer = window.setTimeout(function () { controller.abort(); }, 10000);
    fetch(el.getAttribute("data-poll"), {
      credentials: "same-origin",
      redirect: "error",
      signal: controller.signal,
      headers: { "Accept": "text/html" }
    }).then(function (response) {
      if (!response.ok) throw new Error("status " + response.status);
      return response.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById(id);
      var current = document.getElementById(id);
      if (fresh && current) {
        current.replaceWith(document.adoptNode(fresh));
        if (fresh.hasAttribute("data-poll")) schedule(fresh);
      }
    }).catch(function () {
      // A dropped request or an expired session: try again later, more slowly.
      var current = document.getElementById(id);
      if (current) { current.setAttribute("data-every", "5000"); schedule(current); }
    }).finally(function () { window.clearTimeout(timer); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll][id]").forEach(schedule);
  });
})();
