// Organiser overview: keep processing progress bars moving, and reload when a reflection
// finishes (ready or failed) so its player or reason appears. No library, no CDN; the
// requests and the bars are net.js's (window.voxpopNet).
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-progress-url");
  var net = window.voxpopNet;
  if (!url || !net) { return; }
  var INTERVAL_MS = 2000;

  function watched() {
    return Array.prototype.map.call(document.querySelectorAll("[data-watch]"), function (el) {
      return el.getAttribute("data-watch");
    });
  }

  if (!watched().length) { return; }
  net.poll(url, function (data) {
    var finished = false;
    watched().forEach(function (id) {
      var state = data.reflections[id];
      if (!state) { return; }
      if (state.status === "ready" || state.status === "failed" || state.status === "withdrawn") {
        finished = true;
        return;
      }
      net.showProgress(id, state.progress);
    });
    if (finished) {
      window.location.reload();
      return false;
    }
    return watched().length ? INTERVAL_MS : false;
  }, { everyMs: INTERVAL_MS, delayMs: INTERVAL_MS });
})();
