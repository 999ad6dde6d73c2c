// Publishing page: follow the publish job (progress, "waiting for connection", result) by
// polling its status. No library, no CDN; the polling is net.js's (window.voxpopNet).
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-status-url");
  var net = window.voxpopNet;
  if (!url || !net) { return; }
  var ACTIVE_MS = 2000;
  var IDLE_MS = 10000;
  var text = document.getElementById("publish-text");
  var bar = document.getElementById("publish-progress");

  function show(data) {
    if (text && text.textContent !== data.text) { text.textContent = data.text; }
    if (bar) {
      bar.hidden = !data.active;
      bar.value = data.progress || 0;
    }
  }

  net.poll(url, function (data) {
    show(data);
    return data.active ? ACTIVE_MS : IDLE_MS;
  }, { everyMs: IDLE_MS });
})();
