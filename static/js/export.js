// Export page: follow the record of the day's PDFs while they are made (the list is rendered by
// the server, studio/_reports.html, and swapped in when it changes). Polling is net.js's.
(function () {
  "use strict";
  var net = window.voxpopNet;
  var section = document.getElementById("reports");
  var list = document.getElementById("report-list");
  if (!net || !section || !list) { return; }
  var url = section.getAttribute("data-status-url");
  var ACTIVE_MS = 1000;
  var shown = list.innerHTML;

  var announce = document.getElementById("report-announce");

  function making() {
    return list.querySelector('[data-state="making"]') !== null;
  }

  // Say it when a report that was being made is ready (or could not be made).
  function announceFinished(before) {
    Array.prototype.forEach.call(list.querySelectorAll("[data-state]"), function (item) {
      var state = item.querySelector(".report-state");
      if (before[item.id] === "making" && item.getAttribute("data-state") !== "making" &&
          announce && state) {
        announce.textContent = state.textContent.trim();
      }
    });
  }

  function states() {
    var found = {};
    Array.prototype.forEach.call(list.querySelectorAll("[data-state]"), function (item) {
      found[item.id] = item.getAttribute("data-state");
    });
    return found;
  }

  function follow() {
    net.poll(url, function (data) {
      if (data.html !== shown) {
        // Keep keyboard focus where it was when the list is redrawn (by the report's id).
        var focused = document.activeElement && list.contains(document.activeElement)
          ? document.activeElement.closest("[id]") : null;
        var before = states();
        list.innerHTML = data.html;
        shown = data.html;
        announceFinished(before);
        if (focused) {
          var again = document.getElementById(focused.id);
          var target = again && again.querySelector("a, button");
          if (target) { target.focus(); }
        }
      }
      return data.active ? ACTIVE_MS : false;
    }, { delayMs: ACTIVE_MS });
  }

  if (making()) { follow(); }
})();
