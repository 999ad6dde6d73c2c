// Live dashboard: every 5 s fetch the server-rendered fragment and swap it in when it has
// changed. Pauses while the tab is hidden and catches up as soon as it is shown again.
// No library, no CDN: the venue may be offline.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script && script.getAttribute("data-live-url");
  var updatedText = (script && script.getAttribute("data-updated-text")) || "{time}";
  var region = document.getElementById("dashboard-live");
  var status = document.getElementById("dashboard-status");
  if (!url || !region) { return; }
  var INTERVAL_MS = 5000;
  var timer = null;
  var busy = false;
  var last = null;

  function setStale(stale) {
    if (status) { status.classList.toggle("is-stale", stale); }
  }

  function showUpdated() {
    var when = status && status.querySelector(".when");
    if (when) { when.textContent = updatedText.replace("{time}", clockTime(new Date())); }
  }

  // The time as the rest of voxpop writes it, British style ("19:18:16"), whatever locale the
  // laptop's browser has (a US default said "7:18:16 PM").
  function clockTime(moment) {
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return two(moment.getHours()) + ":" + two(moment.getMinutes()) + ":" + two(moment.getSeconds());
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = null;
    if (!document.hidden) { timer = window.setTimeout(refresh, INTERVAL_MS); }
  }

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (response) {
        // A login page after the session ended also answers 200: only our fragment will do.
        if (!response.ok || response.headers.get("X-Voxpop-Fragment") !== "dashboard") {
          throw new Error("not the dashboard fragment");
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== last) {
          region.innerHTML = html;
          last = html;
        }
        setStale(false);
        showUpdated();
      })
      .catch(function () { setStale(true); })
      .then(function () {
        busy = false;
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      window.clearTimeout(timer);
      timer = null;
    } else {
      refresh();
    }
  });

  schedule();
})();
