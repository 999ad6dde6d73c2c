// Publishing page: follow the publish job (progress, "waiting for connection", result) by
// polling its status. No library, no CDN.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-status-url");
  if (!url) { return; }
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

  function poll() {
    var next = IDLE_MS;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        show(data);
        if (data.active) { next = ACTIVE_MS; }
      })
      .catch(function () { /* the laptop is busy or restarting: try again next time */ })
      .then(function () { window.setTimeout(poll, next); });
  }

  poll();
})();
