/*
 * voxpop kiosk: the page's entry point. It reads the page's configuration (#kiosk-config,
 * rendered by voxpop/kiosk/views.py kiosk_config), sets up the screens (screens.js, which
 * makes the recorder, recorder.js), starts the outbox (outbox.js) and the service worker
 * (sw.js), and exposes window.voxpopKiosk for tests and organisers.
 *
 * The scripts, in the order kiosk.html loads them: the vendored tus-js-client and
 * qrcode-generator, ../js/net.js (requests with the CSRF token), outbox.js, recorder.js,
 * screens.js, then this one. Nothing is fetched from elsewhere (the venue is offline), and
 * there is no build step: plain scripts, no syntax newer than ES2017 (iPad Safari 15+ and
 * Chromium).
 *
 * Every word the scripts show comes from one server-rendered dictionary in the delegate's
 * language: config.strings and config.plurals (voxpop/kiosk/views.py kiosk_strings and
 * kiosk_plurals, translated with gettext like the rest of the page). No literal here.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("kiosk-config").textContent);
  var eventConfig = config.event || {};
  // The event's accent colour, set through the CSSOM (the CSP allows no style="" attribute).
  if (eventConfig.accent) {
    document.documentElement.style.setProperty("--event-accent", eventConfig.accent);
    document.documentElement.style.setProperty("--event-accent-ink", eventConfig.accent_ink || "#ffffff");
  }

  /* ---------------------------------------------------------------- the kiosk's words */

  var strings = config.strings || {};
  var plurals = config.plurals || {};
  var pluralRules = null;
  try {
    pluralRules = new Intl.PluralRules(config.lang || document.documentElement.lang || "en");
  } catch (error) {
    pluralRules = null;
  }

  var text = {
    /** The translated message ``key`` ("" if the page has none). */
    get: function (key) {
      return strings[key] || "";
    },
    /** Fill "{name}" placeholders in a translated message. */
    format: function (key, values) {
      return text.get(key).replace(/\{(\w+)\}/g, function (whole, name) {
        return values && Object.prototype.hasOwnProperty.call(values, name)
          ? String(values[name])
          : whole;
      });
    },
    /** The plural form of ``name`` for ``count`` (CLDR categories, as the catalogue has them). */
    plural: function (name, count) {
      var forms = plurals[name] || {};
      var category = pluralRules ? pluralRules.select(count) : count === 1 ? "one" : "other";
      var words = forms[category] || forms.other || forms.one || "";
      return words.replace(/\{count\}/g, String(count));
    },
  };

  /* ---------------------------------------------------------------- start */

  var outbox = window.voxpopOutbox || null;
  if (window.voxpopNet) window.voxpopNet.setCsrfToken(config.csrf_token);
  var screens = window.voxpopScreens.create({ config: config, text: text, outbox: outbox });

  /** Ask once that the browser never evicts the outbox under storage pressure. */
  function askPersistentStorage() {
    if (!navigator.storage || !navigator.storage.persist) return;
    var key = "voxpop-persist-asked";
    try {
      if (window.localStorage.getItem(key)) return;
      window.localStorage.setItem(key, String(Date.now()));
    } catch (error) {
      /* no localStorage: ask anyway */
    }
    navigator.storage.persist().catch(function () {});
  }

  function startOutbox() {
    if (!outbox) {
      if (window.console) console.error("outbox.js is not loaded: reflections cannot be kept");
      return;
    }
    outbox.on("change", screens.outboxChanged);
    outbox.on("paired", screens.refreshOutboxStatus);
    outbox.on("delivered", screens.delivered);
    outbox.on("refused", screens.refused);
    var api = config.api || {};
    outbox.start({
      api: {
        uploads: api.uploads,
        session: api.session,
        heartbeat: api.heartbeat,
        reflections: api.reflections,
      },
      appVersion: config.app_version || "",
      lang: config.lang || "",
      configVersion: config.config_version || "",
      onConfigChanged: screens.configChanged,
    });
    askPersistentStorage();
    screens.checkStorage();
  }

  /** The service worker opens the kiosk when the laptop is out of reach. */
  function registerServiceWorker() {
    var url = config.api && config.api.service_worker;
    if (!url || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker
      .register(url, { scope: config.api.service_worker_scope || "/kiosk/" })
      .then(function () {
        return navigator.serviceWorker.ready;
      })
      .then(function (registration) {
        // Keep this very page (this language) for opening offline.
        if (registration.active) {
          registration.active.postMessage({ type: "cache-page", url: window.location.href });
        }
      })
      .catch(function (error) {
        if (window.console) console.warn("service worker registration failed", error);
      });
  }

  startOutbox();
  registerServiceWorker();

  window.voxpopKiosk = {
    state: screens.state,
    /** For tests and organisers: {waiting, refused, entries: [{client_id, state, ...}]}. */
    outbox: function () {
      return outbox ? outbox.summary() : Promise.resolve({ waiting: 0, refused: 0, entries: [] });
    },
    flushNow: function () {
      return outbox ? outbox.flushNow() : Promise.resolve();
    },
    /** Roving: the interviewer's name kept on this phone ("" when not set or not roving). */
    interviewer: screens.interviewer,
  };
})();
