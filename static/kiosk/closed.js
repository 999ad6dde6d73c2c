/*
 * The kiosk's "not open yet" page (templates/kiosk/closed.html): the event lacks some wording
 * in one of its languages, so nobody is asked to consent. What the kiosk already holds is
 * still sent: this starts the outbox (outbox.js) with the page's #kiosk-outbox-config, which
 * also keeps the kiosk's heartbeat going (the studio shows what waits on it). When the
 * organisers finish, the session call's config_version is no longer "closed" and the page
 * reloads to the kiosk.
 */
(function () {
  "use strict";

  var RECHECK_MS = 30000;
  var element = document.getElementById("kiosk-outbox-config");
  var outbox = window.voxpopOutbox;
  if (!element || !outbox) return;
  var config = JSON.parse(element.textContent);
  outbox.start({
    api: config.api,
    csrfToken: config.csrf_token,
    appVersion: config.app_version,
    lang: config.lang,
    configVersion: "closed",
    onConfigChanged: function () {
      window.location.reload();
      return true;
    },
  });
  // Look sooner than the outbox's idle minute: the kiosk opens soon after the organisers finish.
  setInterval(outbox.flushNow, RECHECK_MS);
})();
