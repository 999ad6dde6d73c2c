// Talking to the voxpop server, shared by the kiosk, review, reel, overview and publishing
// pages: requests with the CSRF token, JSON answers and their {"error": ...} bodies (the server
// writes them in the page's language), XMLHttpRequest with upload progress, polling a job's
// progress, and the progress bars it moves. Exposes window.voxpopNet.
// A plain script (no modules, no build step), ES2017 at most: iPad Safari 15+ and Chromium.
(function () {
  "use strict";

  var tokenOverride = "";

  /**
   * The CSRF token to send as X-CSRFToken: one set by the page (the kiosk takes it from its
   * config and each session call), else the page's <meta name="csrf-token">, else the first
   * form's hidden csrf_token field.
   */
  function csrfToken() {
    if (tokenOverride) { return tokenOverride; }
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.getAttribute("content")) { return meta.getAttribute("content"); }
    var field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function setCsrfToken(token) {
    if (token) { tokenOverride = String(token); }
  }

  /** The server's own message in an error body ({"error": "..."}), or null. */
  function errorMessage(text) {
    try {
      var body = typeof text === "string" ? JSON.parse(text) : text;
      if (body && body.error) { return String(body.error); }
    } catch (error) { /* not JSON */ }
    return null;
  }

  /**
   * An Error whose message the page can show: the server's (already translated), or the
   * page's own ``failed`` text for anything else (a network failure, a login page after the
   * session ended, a proxy's error page). ``status`` is 0 when nothing answered.
   */
  function failure(message, status, data, redirected) {
    var error = new Error(message || "");
    error.status = status || 0;
    error.data = data || null;
    error.redirected = Boolean(redirected);
    return error;
  }

  function isForm(body) {
    return typeof FormData !== "undefined" && body instanceof FormData;
  }

  /**
   * fetch ``url`` and read its JSON answer. ``options``: method ("GET"), body (FormData, or
   * any value sent as JSON), headers, cache, failed (the page's message for an unreadable
   * answer). Every request but a GET carries the CSRF token. Resolves the answer's data;
   * rejects with an Error to show (see failure), also for {"ok": false} answers.
   */
  function request(url, options) {
    options = options || {};
    var method = (options.method || "GET").toUpperCase();
    var headers = { Accept: "application/json" };
    var body = options.body;
    if (body !== undefined && body !== null && !isForm(body)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    if (method !== "GET" && method !== "HEAD") { headers["X-CSRFToken"] = csrfToken(); }
    Object.keys(options.headers || {}).forEach(function (name) {
      headers[name] = options.headers[name];
    });
    var init = { method: method, credentials: "same-origin", headers: headers };
    if (body !== undefined && body !== null) { init.body = body; }
    if (options.cache) { init.cache = options.cache; }
    return fetch(url, init).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        // A login page after a redirect (the session ended), or no answer of ours.
        throw failure(options.failed, response.status, null, response.redirected);
      }
      return response.json().then(function (data) {
        if (!response.ok || (data && data.ok === false)) {
          throw failure(errorMessage(data) || options.failed, response.status, data);
        }
        return data;
      }, function () {
        throw failure(options.failed, response.status);
      });
    }, function () {
      throw failure(options.failed, 0); // offline, or the laptop is restarting
    });
  }

  function getJSON(url, options) {
    return request(url, Object.assign({}, options, { method: "GET" }));
  }

  /** POST ``body`` (FormData, or a value sent as JSON) with the CSRF token; see request. */
  function send(url, body, options) {
    return request(url, Object.assign({}, options, { method: "POST", body: body }));
  }

  /**
   * The same with XMLHttpRequest, for what fetch cannot do: upload progress and a timeout.
   * ``options``: method ("POST"), body, headers, timeout (ms), onProgress(sent, total),
   * onStart(xhr). Never rejects: resolves {status, data, text}, status 0 when nothing
   * answered (offline, timed out, aborted); data is the parsed JSON answer or null.
   */
  function upload(url, options) {
    options = options || {};
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open(options.method || "POST", url, true);
      if (options.timeout) { xhr.timeout = options.timeout; }
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      Object.keys(options.headers || {}).forEach(function (name) {
        xhr.setRequestHeader(name, options.headers[name]);
      });
      if (options.onProgress && xhr.upload) {
        xhr.upload.onprogress = function (event) {
          options.onProgress(event.loaded, event.lengthComputable ? event.total : 0);
        };
      }
      xhr.onload = function () {
        var data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (error) {
          data = null;
        }
        resolve({ status: xhr.status, data: data, text: xhr.responseText });
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () {
        resolve({ status: 0, data: null, text: "" });
      };
      if (options.onStart) { options.onStart(xhr); }
      xhr.send(options.body === undefined ? null : options.body);
    });
  }

  /**
   * Ask ``url`` for JSON now and again: ``handle(data)`` returns the wait in ms before the
   * next question, or false to stop. Failures (the laptop is busy or restarting) ask again
   * after ``options.retryMs`` (default ``options.everyMs``). ``options.delayMs`` waits before
   * the first question. Returns {stop()}.
   */
  function poll(url, handle, options) {
    options = options || {};
    var every = options.everyMs || 2000;
    var timer = 0;
    var stopped = false;
    function next(ms) {
      if (stopped || ms === false) { return; }
      timer = window.setTimeout(ask, ms);
    }
    function ask() {
      getJSON(url).then(function (data) {
        var wait = handle(data);
        return wait === undefined ? every : wait;
      }, function () {
        return options.retryMs || every;
      }).catch(function (error) {
        if (window.console) { console.error("poll: the page's handler failed", error); }
        return every;
      }).then(next);
    }
    if (options.delayMs) { next(options.delayMs); } else { ask(); }
    return {
      stop: function () {
        stopped = true;
        window.clearTimeout(timer);
      }
    };
  }

  /** "42%" for 0.42. */
  function percent(fraction) {
    return Math.round((fraction || 0) * 100) + "%";
  }

  /** Move reflection ``id``'s progress bar ([data-progress]) and label ([data-percent]). */
  function showProgress(id, fraction) {
    var bar = document.querySelector('[data-progress="' + id + '"]');
    var label = document.querySelector('[data-percent="' + id + '"]');
    if (bar) { bar.value = fraction; }
    if (label) { label.textContent = percent(fraction); }
  }

  window.voxpopNet = {
    csrfToken: csrfToken,
    setCsrfToken: setCsrfToken,
    errorMessage: errorMessage,
    request: request,
    getJSON: getJSON,
    send: send,
    upload: upload,
    poll: poll,
    percent: percent,
    showProgress: showProgress
  };
})();
