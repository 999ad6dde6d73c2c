/*
 * voxpop kiosk service worker: the kiosk opens even when the laptop is out of reach.
 *
 * Served by GET /kiosk/sw.js (voxpop/kiosk/views.py), which fills in SW_CONFIG below: the
 * kiosk's static files and a version (a hash of them), so a new deploy installs a new worker.
 *
 * - The kiosk page (/kiosk/, also ?lang=...): network first; every good 200 answer is kept;
 *   when the network fails (or is silent for a few seconds) the kept page is shown. The page
 *   carries the event's configuration, so a changed configuration arrives with the next load
 *   that reaches the laptop (kiosk.js reloads an idle kiosk when GET /kiosk/api/session
 *   answers a config_version other than its own; see screens.js).
 * - Static files (css, js, vendored libraries, the event logo): from the cache at once, then
 *   refreshed from the network in the background. Precached on install.
 * - Never cached: /kiosk/api/* (uploads, session, heartbeat) and everything else.
 */
/* eslint-env serviceworker */
var SW_CONFIG = { version: "dev", page: "/kiosk/", precache: [], api: "/kiosk/api/" };

var STATIC_CACHE = "voxpop-kiosk-static-" + SW_CONFIG.version;
var PAGE_CACHE = "voxpop-kiosk-pages"; // kept across versions: the page is the config
var NETWORK_WAIT_MS = 4000;
var LOGO_PATH = "/studio/branding/logo";

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches
      .open(STATIC_CACHE)
      .then(function (cache) {
        // One by one: a missing file must not stop the others (or the worker) installing.
        return Promise.all(
          SW_CONFIG.precache.map(function (url) {
            return fetch(new Request(url, { cache: "reload", credentials: "same-origin" }))
              .then(function (response) {
                if (response.ok) return cache.put(url, response);
              })
              .catch(function () {});
          })
        );
      })
      .then(function () {
        return cachePage(SW_CONFIG.page);
      })
      .then(function () {
        return self.skipWaiting();
      })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches
      .keys()
      .then(function (names) {
        return Promise.all(
          names
            .filter(function (name) {
              return name.indexOf("voxpop-kiosk-static-") === 0 && name !== STATIC_CACHE;
            })
            .map(function (name) {
              return caches.delete(name);
            })
        );
      })
      .then(function () {
        return self.clients.claim();
      })
  );
});

// The page asks for its own address to be kept (it may have been loaded before this worker).
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "cache-page" && typeof data.url === "string") {
    var url = new URL(data.url, self.location.href);
    if (isKioskPage(url)) event.waitUntil(cachePage(url.href));
  }
});

function isKioskPage(url) {
  return url.origin === self.location.origin && url.pathname === SW_CONFIG.page;
}

function isStatic(url) {
  if (url.origin !== self.location.origin) return false;
  if (url.pathname.indexOf(SW_CONFIG.api) === 0) return false;
  return url.pathname.indexOf("/static/") === 0 || url.pathname === LOGO_PATH;
}

function goodPage(response) {
  return response && response.status === 200 && response.type === "basic" && !response.redirected;
}

function cachePage(url) {
  return fetch(new Request(url, { credentials: "same-origin", cache: "no-store" }))
    .then(function (response) {
      if (!goodPage(response)) return;
      return caches.open(PAGE_CACHE).then(function (cache) {
        return cache.put(url, response);
      });
    })
    .catch(function () {});
}

function cachedPage(request) {
  return caches.open(PAGE_CACHE).then(function (cache) {
    return cache.match(request.url).then(function (exact) {
      if (exact) return exact;
      // Another language's copy beats the browser's error page.
      return cache.match(SW_CONFIG.page).then(function (plain) {
        return plain || cache.match(request.url, { ignoreSearch: true });
      });
    });
  });
}

function pageFromNetworkFirst(event) {
  var request = event.request;
  var fromNetwork = fetch(request).then(function (response) {
    if (goodPage(response)) {
      var copy = response.clone();
      event.waitUntil(
        caches.open(PAGE_CACHE).then(function (cache) {
          return cache.put(request.url, copy);
        })
      );
    }
    return response;
  });
  return new Promise(function (resolve, reject) {
    var done = false;
    var fallback = function () {
      cachedPage(request).then(function (cached) {
        if (done) return;
        if (cached) {
          done = true;
          resolve(cached);
        } else if (failed) {
          done = true;
          reject(new TypeError("offline and no kept copy of the kiosk page"));
        }
      });
    };
    var failed = false;
    var timer = setTimeout(fallback, NETWORK_WAIT_MS); // the laptop may be silent, not gone
    fromNetwork.then(
      function (response) {
        clearTimeout(timer);
        if (!done) {
          done = true;
          resolve(response);
        }
      },
      function () {
        clearTimeout(timer);
        failed = true;
        fallback();
      }
    );
  });
}

function staticFromCacheThenRefresh(event) {
  var request = event.request;
  var refresh = fetch(request)
    .then(function (response) {
      if (response.ok && response.type === "basic") {
        var copy = response.clone();
        return caches
          .open(STATIC_CACHE)
          .then(function (cache) {
            return cache.put(request, copy);
          })
          .then(function () {
            return response;
          });
      }
      return response;
    });
  return caches.open(STATIC_CACHE).then(function (cache) {
    return cache.match(request);
  }).then(function (cached) {
    if (cached) {
      event.waitUntil(refresh.catch(function () {}));
      return cached;
    }
    return refresh.catch(function () {
      return caches.match(request); // any older copy
    }).then(function (response) {
      return response || Response.error();
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (request.mode === "navigate" && isKioskPage(url)) {
    event.respondWith(pageFromNetworkFirst(event));
  } else if (isStatic(url)) {
    event.respondWith(staticFromCacheThenRefresh(event));
  }
  // Everything else (the API above all) goes to the network untouched.
});
