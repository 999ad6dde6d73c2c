/*
 * The kiosk's "not open yet" page (templates/kiosk/closed.html): the event lacks some wording
 * in one of its languages, so nobody is asked to consent. What the kiosk already holds is
 * still sent: this starts the outbox (outbox.js) with the page's #kiosk-outbox-config, which
 * also keeps the kiosk's heartbeat going (the studio shows what waits on it). When the
 * organisers finish, the session call's config_version is no longer "closed" and the page
 * reloads to the kiosk (within a minute: the outbox's idle session call).
 */
(function () {
  "use strict";

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
  // The outbox asks for the session every minute while idle (and keeps its backoff while the
  // laptop is failing): the kiosk opens within a minute of the organisers finishing.
})();
