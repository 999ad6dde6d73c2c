// Publishing page: follow the publish job (progress, "waiting for connection", result) by
// polling its status, and keep the whole status area in step with it: the sentence, the
// progress bar, when it was last published and the archive's address. No library, no CDN;
// the polling is net.js's (window.voxpopNet). Every word comes from the server.
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
  var last = document.getElementById("publish-last");
  var address = document.getElementById("archive-address");
  var label = document.getElementById("archive-address-label");
  var link = address && address.querySelector("a");

  function setText(element, value) {
    if (element && typeof value === "string" && element.textContent !== value) {
      element.textContent = value;
    }
  }

  function show(data) {
    setText(text, data.text);
    if (bar) {
      bar.hidden = !data.active || data.waiting;  // nothing moves while it waits
      bar.value = data.progress || 0;
    }
    setText(last, data.last_published_text);
    if (address) {
      address.hidden = !data.archive_url;
      setText(label, data.archive_url_label);
      if (link && data.archive_url && link.getAttribute("href") !== data.archive_url) {
        link.setAttribute("href", data.archive_url);
        link.textContent = data.archive_url;
      }
    }
  }

  net.poll(url, function (data) {
    show(data);
    return data.active ? ACTIVE_MS : IDLE_MS;
  }, { everyMs: IDLE_MS });
})();
