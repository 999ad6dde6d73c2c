// Organiser overview: keep processing progress bars moving, and reload when a reflection
// finishes (ready or failed) so its player or reason appears. No library, no CDN.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-progress-url");
  if (!url) { return; }
  var INTERVAL_MS = 2000;

  function watched() {
    return Array.prototype.map.call(document.querySelectorAll("[data-watch]"), function (el) {
      return el.getAttribute("data-watch");
    });
  }

  function poll() {
    var ids = watched();
    if (!ids.length) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var finished = false;
        ids.forEach(function (id) {
          var state = data.reflections[id];
          if (!state) { return; }
          if (state.status === "ready" || state.status === "failed" || state.status === "withdrawn") {
            finished = true;
            return;
          }
          var bar = document.querySelector('[data-progress="' + id + '"]');
          var label = document.querySelector('[data-percent="' + id + '"]');
          if (bar) { bar.value = state.progress; }
          if (label) { label.textContent = Math.round(state.progress * 100) + "%"; }
        });
        if (finished) { window.location.reload(); }
      })
      .catch(function () { /* the laptop is busy or restarting: try again next time */ })
      .then(function () { window.setTimeout(poll, INTERVAL_MS); });
  }

  window.setTimeout(poll, INTERVAL_MS);
})();
