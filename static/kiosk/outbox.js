/*
 * voxpop kiosk outbox: no delegate's reflection is ever lost.
 *
 * Every finished reflection is written to IndexedDB before the first byte is sent, and is
 * removed only when the server has confirmed it (reflection id + receipt code). A background
 * loop sends the oldest first, one at a time: media with the tus 1.0 protocol (resumable, the
 * vendored tus-js-client), text as one multipart POST. Failures back off exponentially with
 * jitter (2 s up to 5 min); the `online` event, a new entry and page load send at once.
 *
 * While a video or audio take is recording, each MediaRecorder time slice is written to the
 * "chunks" store, so a take cut off by a reload or a crashed tab is recovered on the next
 * load as an outbox entry marked recovered=1 (the delegate had already consented).
 *
 * The pool of receipt codes the server reserved for this kiosk is kept here too, so the
 * thank-you screen shows a code at once even with the laptop out of reach.
 *
 * Requests go through ../js/net.js (window.voxpopNet: the CSRF token, JSON answers and their
 * error messages, XMLHttpRequest with a timeout). Exposes window.voxpopOutbox. ES2017, no
 * build step: iPad Safari 15+ and Chromium.
 */
(function () {
  "use strict";

  var DB_NAME = "voxpop-kiosk";
  var DB_VERSION = 1;
  var CHUNK_SIZE = 2 * 1024 * 1024;
  var TUS_RETRY_DELAYS = [0, 1000, 3000]; // then the outbox's own backoff takes over
  var BACKOFF_START_MS = 2000;
  var BACKOFF_CAP_MS = 5 * 60 * 1000;
  var STALL_MS = 60000; // no progress for this long: give up this attempt, try again later
  var TEXT_TIMEOUT_MS = 60000;
  var HEARTBEAT_MS = 60000;
  var CONFIG_CHECK_MS = 60000; // an idle kiosk asks for the session (and config) this often
  var CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
  // Answers that will not change by sending the same thing again.
  var PERMANENT = [400, 403, 409, 413, 415, 422];
  var REFUSED_REPORTED = 20; // the heartbeat describes at most this many refused entries
  var RESEND_KEY = "voxpop-resend-refused"; // the organiser's last resend request acted on

  var api = {
    uploads: "/kiosk/api/uploads/",
    session: "/kiosk/api/session",
    heartbeat: "/kiosk/api/heartbeat",
    reflections: "/kiosk/api/reflections",
  };
  var net = window.voxpopNet;
  var appVersion = "dev";
  var pageLang = "";
  var configVersion = ""; // the page's own; the session call answers the server's
  var onConfigChanged = null;
  var resendDone = readResendDone();
  var listeners = {};
  var memoryEntries = []; // only if IndexedDB refuses an entry: still sent, from memory
  var dbPromise = null;

  var loop = {
    running: null, // the promise of the round in progress
    again: false, // something asked for a round while one was running
    failures: 0,
    timer: 0,
    notPaired: false,
    current: null, // {client_id, upload} being sent
  };

  /* ---------------------------------------------------------------- events */

  function on(name, callback) {
    (listeners[name] = listeners[name] || []).push(callback);
  }

  function emit(name, detail) {
    (listeners[name] || []).forEach(function (callback) {
      try {
        callback(detail);
      } catch (error) {
        if (window.console) console.error("outbox listener failed", error);
      }
    });
  }

  /* ---------------------------------------------------------------- IndexedDB */

  function promisify(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () {
        resolve(request.result);
      };
      request.onerror = function () {
        reject(request.error);
      };
    });
  }

  function done(tx) {
    return new Promise(function (resolve, reject) {
      tx.oncomplete = function () {
        resolve();
      };
      tx.onerror = tx.onabort = function () {
        reject(tx.error || new Error("IndexedDB transaction aborted"));
      };
    });
  }

  /** Safari 14.1-15 can leave the first indexedDB.open() hanging until databases() is poked. */
  function safariWakeUp() {
    if (!indexedDB.databases) return Promise.resolve();
    return new Promise(function (resolve) {
      var settled = false;
      var tries = 0;
      var finish = function () {
        settled = true;
        resolve();
      };
      var poke = function () {
        if (settled || tries++ > 50) return finish();
        indexedDB.databases().then(finish, finish);
        setTimeout(poke, 100);
      };
      poke();
    });
  }

  function openDb() {
    if (dbPromise) return dbPromise;
    if (!window.indexedDB) return Promise.reject(new Error("IndexedDB is not available"));
    dbPromise = safariWakeUp().then(function () {
      return new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, DB_VERSION);
        request.onupgradeneeded = function () {
          var db = request.result;
          if (!db.objectStoreNames.contains("outbox")) {
            db.createObjectStore("outbox", { keyPath: "client_id" });
          }
          if (!db.objectStoreNames.contains("takes")) {
            db.createObjectStore("takes", { keyPath: "take_id" });
          }
          if (!db.objectStoreNames.contains("chunks")) {
            db.createObjectStore("chunks", { keyPath: ["take_id", "seq"] });
          }
          if (!db.objectStoreNames.contains("codes")) {
            db.createObjectStore("codes", { keyPath: "code" });
          }
        };
        request.onsuccess = function () {
          var db = request.result;
          db.onversionchange = function () {
            db.close();
            dbPromise = null;
          };
          resolve(db);
        };
        request.onerror = function () {
          reject(request.error);
        };
        request.onblocked = function () {
          reject(new Error("IndexedDB is blocked by another tab"));
        };
      });
    });
    dbPromise.catch(function () {
      dbPromise = null; // try again next time
    });
    return dbPromise;
  }

  function getAll(storeName) {
    return openDb().then(function (db) {
      return promisify(db.transaction(storeName).objectStore(storeName).getAll());
    });
  }

  function getOne(storeName, key) {
    return openDb().then(function (db) {
      return promisify(db.transaction(storeName).objectStore(storeName).get(key));
    });
  }

  /** Run ``work(tx)`` in one read-write transaction over ``stores``; resolve when committed. */
  function write(stores, work) {
    return openDb().then(function (db) {
      var tx = db.transaction(stores, "readwrite");
      var finished = done(tx);
      try {
        work(tx);
      } catch (error) {
        try {
          tx.abort();
        } catch (ignored) {
          /* already finished */
        }
        return Promise.reject(error);
      }
      return finished;
    });
  }

  function toArrayBuffer(blob) {
    if (blob.arrayBuffer) return blob.arrayBuffer();
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () {
        resolve(reader.result);
      };
      reader.onerror = function () {
        reject(reader.error);
      };
      reader.readAsArrayBuffer(blob);
    });
  }

  /**
   * Write ``record`` (whose ``field`` holds a Blob) with ``work``; if storing the Blob fails
   * (some WebKit builds refuse Blobs in IndexedDB), store its bytes as an ArrayBuffer.
   */
  function writeWithBlob(stores, record, field, work) {
    return write(stores, function (tx) {
      work(tx, record);
    }).catch(function (error) {
      var blob = record[field];
      if (!blob || !(blob instanceof Blob)) throw error;
      return toArrayBuffer(blob).then(function (buffer) {
        var copy = Object.assign({}, record);
        copy[field] = buffer;
        copy[field + "_type"] = blob.type;
        return write(stores, function (tx) {
          work(tx, copy);
        });
      });
    });
  }

  function blobOf(record, field) {
    var value = record[field];
    if (!value) return null;
    if (value instanceof Blob) return value;
    return new Blob([value], { type: record[field + "_type"] || "" });
  }

  /* ---------------------------------------------------------------- entries */

  function allEntries() {
    return getAll("outbox").then(
      function (rows) {
        return rows.concat(memoryEntries);
      },
      function () {
        return memoryEntries.slice();
      }
    );
  }

  function updateEntry(entry, changes) {
    Object.assign(entry, changes);
    if (memoryEntries.indexOf(entry) !== -1) return Promise.resolve();
    // Read and write in one transaction: an entry deleted meanwhile is never brought back.
    return write(["outbox"], function (tx) {
      var store = tx.objectStore("outbox");
      store.get(entry.client_id).onsuccess = function (event) {
        var stored = event.target.result;
        if (!stored) return;
        Object.assign(stored, changes);
        store.put(stored);
      };
    });
  }

  function removeEntry(entry) {
    var index = memoryEntries.indexOf(entry);
    if (index !== -1) {
      memoryEntries.splice(index, 1);
      return Promise.resolve();
    }
    return write(["outbox"], function (tx) {
      tx.objectStore("outbox").delete(entry.client_id);
    });
  }

  function newEntry(fields, blob) {
    return {
      client_id: fields.client_id,
      created_at: Date.now(),
      kind: fields.kind,
      fields: fields,
      blob: blob || null,
      bytes: blob ? blob.size : new Blob([fields.text || ""]).size,
      receipt_code: fields.receipt_code,
      upload_url: null,
      state: "waiting",
      attempts: 0,
      last_error: null,
    };
  }

  /**
   * Keep a finished reflection: ``fields`` (the metadata, with client_id and receipt_code)
   * and, for video and audio, its Blob. Resolves once it is on disk (``{persisted: true}``),
   * then sends it in the background. ``takeId`` removes the take it came from in the same
   * transaction.
   */
  function add(fields, blob, takeId) {
    var entry = newEntry(fields, blob);
    var stores = takeId ? ["outbox", "takes", "chunks"] : ["outbox"];
    return writeWithBlob(stores, entry, "blob", function (tx, record) {
      tx.objectStore("outbox").put(record);
      if (takeId) deleteTake(tx, takeId);
    })
      .then(
        function () {
          return { persisted: true, entry: entry };
        },
        function (error) {
          // Storage refused (full, or a private window): still send it, from memory.
          if (window.console) console.error("outbox: could not store the reflection", error);
          memoryEntries.push(entry);
          return { persisted: false, entry: entry };
        }
      )
      .then(function (result) {
        changed();
        flushNow();
        return result;
      });
  }

  /* ---------------------------------------------------------------- takes */

  function deleteTake(tx, takeId) {
    tx.objectStore("takes").delete(takeId);
    tx.objectStore("chunks").delete(IDBKeyRange.bound([takeId, 0], [takeId, Infinity]));
  }

  /** Start keeping a take: its fields (consent etc.) are written before the first chunk. */
  function beginTake(takeId, fields) {
    return write(["takes"], function (tx) {
      tx.objectStore("takes").put({
        take_id: takeId,
        created_at: Date.now(),
        fields: fields,
        last_at: 0,
      });
    });
  }

  /** Keep one MediaRecorder time slice (``atMs`` since the recording started). */
  function addChunk(takeId, seq, blob, atMs) {
    var chunk = { take_id: takeId, seq: seq, blob: blob, at: atMs };
    return writeWithBlob(["chunks", "takes"], chunk, "blob", function (tx, record) {
      tx.objectStore("chunks").put(record);
      var takes = tx.objectStore("takes");
      takes.get(takeId).onsuccess = function (event) {
        var take = event.target.result;
        if (!take) return;
        take.last_at = Math.max(take.last_at || 0, atMs);
        takes.put(take);
      };
    });
  }

  /** Forget a take (retake, back, or the idle reset before Submit). */
  function dropTake(takeId) {
    return write(["takes", "chunks"], function (tx) {
      deleteTake(tx, takeId);
    }).catch(function () {});
  }

  /** Turn takes left by a closed or crashed tab into outbox entries (recovered=1). */
  function recoverTakes() {
    return getAll("takes").then(function (takes) {
      return takes.reduce(function (previous, take) {
        return previous.then(function () {
          return recoverTake(take);
        });
      }, Promise.resolve());
    });
  }

  function recoverTake(take) {
    return openDb()
      .then(function (db) {
        var range = IDBKeyRange.bound([take.take_id, 0], [take.take_id, Infinity]);
        return promisify(db.transaction("chunks").objectStore("chunks").getAll(range));
      })
      .then(function (chunks) {
        if (!chunks.length) return dropTake(take.take_id);
        var fields = Object.assign({}, take.fields);
        var blobs = chunks.map(function (chunk) {
          return blobOf(chunk, "blob");
        });
        var type = fields.filetype || fields.recorder_mime || "";
        var blob = new Blob(blobs, { type: type });
        return takeReceiptCode().then(function (code) {
          fields.receipt_code = code;
          fields.recovered = "1";
          fields.duration_ms = String(Math.max(1000, take.last_at || chunks.length * 1000));
          return add(fields, blob, take.take_id);
        });
      });
  }

  /* ---------------------------------------------------------------- receipt codes */

  function randomCode() {
    var bytes = new Uint8Array(6);
    window.crypto.getRandomValues(bytes);
    var chars = Array.prototype.map.call(bytes, function (b) {
      // 248 = 8 × 31: values above it would favour the first letters; redraw them.
      while (b >= 248) {
        var one = new Uint8Array(1);
        window.crypto.getRandomValues(one);
        b = one[0];
      }
      return CODE_ALPHABET.charAt(b % CODE_ALPHABET.length);
    });
    return chars.slice(0, 3).join("") + "-" + chars.slice(3).join("");
  }

  /**
   * Replace the pool with the codes the server holds for this kiosk.
   *
   * A code already shown to someone stays reserved on the server until its reflection
   * arrives, so the server's list can still hold it after the reflection has left the
   * outbox (the list was read before the upload finished). Such codes stay marked ``spent``
   * while the server lists them, and are never handed out again.
   */
  function storeCodes(codes) {
    if (!Array.isArray(codes)) return Promise.resolve();
    return write(["codes"], function (tx) {
      var store = tx.objectStore("codes");
      store.getAll().onsuccess = function (event) {
        var spent = {};
        (event.target.result || []).forEach(function (row) {
          if (row.spent) spent[row.code] = true;
        });
        store.clear();
        codes.forEach(function (code, index) {
          if (typeof code !== "string" || !code) return;
          var row = { code: code, order: index };
          if (spent[code]) row.spent = true;
          store.put(row);
        });
      };
    }).catch(function () {});
  }

  /** A receipt code for a new reflection: from the pool, unused by the outbox, or random. */
  function takeReceiptCode() {
    return Promise.all([getAll("codes").catch(function () {
      return [];
    }), allEntries()])
      .then(function (results) {
        var used = {};
        results[1].forEach(function (entry) {
          used[entry.receipt_code] = true;
        });
        var pool = results[0]
          .sort(function (a, b) {
            return a.order - b.order;
          })
          .filter(function (row) {
            return !row.spent && !used[row.code];
          });
        if (!pool.length) return randomCode();
        var code = pool[0].code;
        return write(["codes"], function (tx) {
          // Kept as spent (not deleted): see storeCodes.
          tx.objectStore("codes").put({ code: code, order: pool[0].order, spent: true });
        })
          .catch(function () {})
          .then(function () {
            return code;
          });
      })
      .catch(function () {
        return randomCode();
      });
  }

  /* ---------------------------------------------------------------- server */

  /** GET the kiosk's session: {status, body}, status 0 when the laptop did not answer. */
  function fetchSession() {
    var url = api.session;
    if (pageLang) {
      url += (url.indexOf("?") === -1 ? "?" : "&") + "lang=" + encodeURIComponent(pageLang);
    }
    return net.getJSON(url, { cache: "no-store" }).then(
      function (body) {
        return { status: 200, body: body };
      },
      function (error) {
        // 401: not paired any more; a login page or an unreadable answer: not the session.
        return { status: error.redirected ? 0 : error.status };
      }
    );
  }

  /** The server's message for a refusal (in the kiosk's language), or the answer's start. */
  function errorMessage(text) {
    return net.errorMessage(text) || String(text || "").slice(0, 300);
  }

  /** What to do after an answer that was not a success. */
  function classify(status, message, offsetMismatch) {
    if (status === 401) return { outcome: "not_paired", status: status, message: message };
    if (status === 409 && offsetMismatch) {
      return { outcome: "retry", status: status, message: message };
    }
    if (PERMANENT.indexOf(status) !== -1) {
      return { outcome: "refused", status: status, message: message };
    }
    return { outcome: "retry", status: status, message: message || "network" };
  }

  function metadataFor(entry, blob) {
    var fields = entry.fields;
    var metadata = {};
    [
      "perspective",
      "prompt",
      "kind",
      "consent",
      "consent_version",
      "first_name",
      "lang",
      "duration_ms",
      "client_id",
      "receipt_code",
      "recorder_mime",
      "recorder_fallback", // which fallback step recorded it (issue 14)
      "filename",
      "filetype",
      "recovered",
      "interviewer", // roving kiosks: to whom the consent was given aloud
    ].forEach(function (key) {
      var value = fields[key];
      if (value !== undefined && value !== null && value !== "") metadata[key] = String(value);
    });
    metadata.client_id = entry.client_id;
    metadata.receipt_code = entry.receipt_code;
    if (!metadata.filetype && blob.type) metadata.filetype = blob.type;
    return metadata;
  }

  function confirmation(getHeader) {
    var id = getHeader("Voxpop-Reflection-Id");
    var code = getHeader("Voxpop-Receipt-Code");
    return id && code ? { id: Number(id) || id, receipt_code: code } : null;
  }

  /** Send one media entry with tus; resolve {outcome, ...}. Never rejects. */
  function sendMedia(entry) {
    return new Promise(function (resolve) {
      var blob = blobOf(entry, "blob");
      var settled = false;
      var stallTimer = 0;
      var upload = null;
      var finish = function (result) {
        if (settled) return;
        settled = true;
        clearTimeout(stallTimer);
        loop.current = null;
        resolve(result);
      };
      var watchdog = function () {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(function () {
          if (upload) upload.abort();
          finish({ outcome: "retry", status: 0, message: "no progress for a minute" });
        }, STALL_MS);
      };
      if (!window.tus || !blob) {
        finish({ outcome: "retry", status: 0, message: "tus-js-client is not loaded" });
        return;
      }
      upload = new window.tus.Upload(blob, {
        endpoint: api.uploads,
        uploadUrl: entry.upload_url || null,
        chunkSize: CHUNK_SIZE,
        retryDelays: TUS_RETRY_DELAYS,
        metadata: metadataFor(entry, blob),
        headers: { "X-CSRFToken": net.csrfToken() },
        storeFingerprintForResuming: false,
        removeFingerprintOnSuccess: true,
        onShouldRetry: function (error) {
          var response = error.originalResponse;
          var status = response ? response.getStatus() : 0;
          if (status === 401) return false;
          if (status === 409) return true; // tus re-reads the offset with HEAD first
          return (status === 0 || status >= 500 || status === 423) && navigator.onLine !== false;
        },
        onUploadUrlAvailable: function () {
          if (!settled && upload.url && upload.url !== entry.upload_url) {
            updateEntry(entry, { upload_url: upload.url }).catch(function () {});
          }
        },
        onAfterResponse: function (request, response) {
          watchdog();
          // A creation POST for a client_id that already became a reflection: done.
          if (request.getMethod() === "POST") {
            var answer = confirmation(function (name) {
              return response.getHeader(name);
            });
            if (answer) {
              upload.abort();
              finish({ outcome: "delivered", answer: answer });
            }
          }
        },
        onProgress: function (sent, total) {
          watchdog();
          emit("progress", { client_id: entry.client_id, sent: sent, total: total });
        },
        onSuccess: function (payload) {
          var response = payload && payload.lastResponse;
          var answer =
            response &&
            confirmation(function (name) {
              return response.getHeader(name);
            });
          if (answer) {
            finish({ outcome: "delivered", answer: answer });
          } else {
            // Every byte is there but no receipt: ask again later (a HEAD answers it).
            finish({ outcome: "retry", status: 0, message: "no receipt in the answer" });
          }
        },
        onError: function (error) {
          var response = error && error.originalResponse;
          var status = response ? response.getStatus() : 0;
          var text = response ? response.getBody() : "";
          var message = response ? errorMessage(text) : String((error && error.message) || error);
          var request = error && error.originalRequest;
          // A 409 on a PATCH is about the offset (or an upload already finished): the next
          // attempt's HEAD sorts it out. A 409 on creation is a real conflict.
          var offsetMismatch = !!request && request.getMethod() !== "POST";
          var result = classify(status, message, offsetMismatch);
          if (status === 404 || status === 410) result.forgetUploadUrl = true;
          finish(result);
        },
      });
      loop.current = { client_id: entry.client_id, upload: upload };
      watchdog();
      upload.start();
    });
  }

  /** Send one text entry as the multipart POST; resolve {outcome, ...}. Never rejects. */
  function sendText(entry) {
    return new Promise(function (resolve) {
      var fields = entry.fields;
      var form = new FormData();
      form.append("perspective", fields.perspective);
      form.append("prompt", String(fields.prompt));
      form.append("kind", "text");
      String(fields.consent || "")
        .split(",")
        .filter(Boolean)
        .forEach(function (slug) {
          form.append("consent", slug);
        });
      form.append("consent_version", fields.consent_version || "");
      if (fields.first_name) form.append("first_name", fields.first_name);
      form.append("text", fields.text || "");
      form.append("client_id", entry.client_id);
      form.append("receipt_code", entry.receipt_code);
      form.append("lang", fields.lang || "");
      if (fields.interviewer) form.append("interviewer", fields.interviewer); // roving kiosks
      net
        .upload(api.reflections, {
          body: form,
          timeout: TEXT_TIMEOUT_MS,
          onStart: function (xhr) {
            loop.current = { client_id: entry.client_id, xhr: xhr };
          },
        })
        .then(function (answer) {
          loop.current = null;
          var status = answer.status;
          var body = answer.data;
          if (!status) {
            resolve({ outcome: "retry", status: 0, message: "network" });
          } else if (status >= 200 && status < 300 && body && body.receipt_code && body.id) {
            resolve({ outcome: "delivered", answer: { id: body.id, receipt_code: body.receipt_code } });
          } else if (status >= 200 && status < 400) {
            // Redirected to a page (lost the session?) or an answer we cannot read.
            resolve({ outcome: "retry", status: status, message: "unexpected answer" });
          } else {
            resolve(classify(status, errorMessage(answer.text)));
          }
        });
    });
  }

  /* ---------------------------------------------------------------- the loop */

  function setNotPaired(value) {
    if (loop.notPaired === value) return;
    loop.notPaired = value;
    emit("paired", { paired: !value });
  }

  function backoff() {
    loop.failures++;
    var base = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * Math.pow(2, loop.failures - 1));
    var delay = Math.round(base * (0.75 + Math.random() * 0.5));
    clearTimeout(loop.timer);
    loop.timer = setTimeout(flushNow, delay);
    emit("backoff", { delay: delay, failures: loop.failures });
  }

  function deliver(entry, answer) {
    return removeEntry(entry).then(function () {
      emit("delivered", {
        client_id: entry.client_id,
        id: answer.id,
        receipt_code: answer.receipt_code,
        shown_code: entry.receipt_code,
      });
    });
  }

  /** One pass over the outbox, oldest first. */
  function round() {
    return fetchSession().then(function (session) {
      if (session.status === 401) {
        setNotPaired(true);
        backoff();
        return;
      }
      if (session.body) {
        setNotPaired(false);
        net.setCsrfToken(session.body.csrf_token);
        storeCodes(session.body.receipt_codes);
        if (configChanged(session.body.config_version)) return; // the page reloads itself
        return resendIfAsked(session.body.resend_refused).then(sendPending);
      } else if (session.status !== 404) {
        // Unreachable (or failing): sending now would only fail too. 404 means a server
        // without the session endpoint, where the page's own token is still good.
        return allEntries().then(function (entries) {
          if (pending(entries).length) backoff();
        });
      }
      return sendPending();
    });
  }

  function sendPending() {
    return allEntries().then(function (entries) {
      var queue = pending(entries);
      if (!queue.length) {
        loop.failures = 0;
        return;
      }
      return sendAll(queue);
    });
  }

  /* ---------------------------------------------------------------- refused, and sent again */

  // The laptop refused an entry for good (too large, unreadable, a rule): it stays here, and
  // is not sent again by itself. When an organiser has fixed the cause, they ask from the
  // studio's kiosk list; the session call then carries the time they asked ("resend_refused"),
  // and the kiosk puts its refused entries back in the queue once for each new time.

  function readResendDone() {
    try {
      return window.localStorage.getItem(RESEND_KEY) || "";
    } catch (error) {
      return ""; // no localStorage: at worst one more try per page load
    }
  }

  function resendIfAsked(asked) {
    if (!asked || asked === resendDone) return Promise.resolve();
    resendDone = asked;
    try {
      window.localStorage.setItem(RESEND_KEY, asked);
    } catch (error) {
      /* kept in memory for this page */
    }
    return queueRefused();
  }

  /** Put every refused entry back in the queue; resolves with how many. */
  function queueRefused() {
    return allEntries().then(function (entries) {
      var refused = entries.filter(function (entry) {
        return entry.state === "refused";
      });
      return Promise.all(
        refused.map(function (entry) {
          return updateEntry(entry, { state: "waiting" });
        })
      ).then(function () {
        if (refused.length) changed();
        return refused.length;
      });
    });
  }

  /**
   * The event's configuration changed on the server: tell the page. True when the page is
   * reloading now (this round stops: the new page sends what is waiting).
   */
  function configChanged(version) {
    if (!version || !configVersion || version === configVersion || !onConfigChanged) {
      return false;
    }
    try {
      return onConfigChanged(version) === true;
    } catch (error) {
      if (window.console) console.error("outbox: config change handler failed", error);
      return false;
    }
  }

  function pending(entries) {
    return entries
      .filter(function (entry) {
        return entry.state === "waiting" || entry.state === "sending";
      })
      .sort(function (a, b) {
        return a.created_at - b.created_at;
      });
  }

  function sendAll(queue) {
    var failed = false;
    var index = 0;
    var next = function () {
      if (index >= queue.length) {
        if (failed) backoff();
        else loop.failures = 0;
        return Promise.resolve();
      }
      var entry = queue[index++];
      return sendOne(entry).then(function (result) {
        if (result.outcome === "delivered" || result.outcome === "refused") return next();
        failed = true;
        if (result.outcome === "not_paired") {
          setNotPaired(true);
          index = queue.length;
          return next();
        }
        // Network down: the rest would fail too. A server error may be this entry's alone.
        if (!result.status) index = queue.length;
        return next();
      });
    };
    return next();
  }

  function sendOne(entry) {
    var send = entry.kind === "text" ? sendText : sendMedia;
    return updateEntry(entry, { state: "sending", attempts: (entry.attempts || 0) + 1 })
      .catch(function () {})
      .then(function () {
        changed();
        return send(entry);
      })
      .then(function (result) {
        if (result.outcome === "delivered") {
          setNotPaired(false);
          return deliver(entry, result.answer).then(function () {
            return result;
          });
        }
        var changes = {
          state: result.outcome === "refused" ? "refused" : "waiting",
          last_error: result.message || null,
          last_status: result.status || 0,
        };
        if (result.forgetUploadUrl) changes.upload_url = null;
        return updateEntry(entry, changes).then(function () {
          if (result.outcome === "refused") {
            emit("refused", { client_id: entry.client_id, message: result.message });
          }
          return result;
        });
      })
      .catch(function (error) {
        if (window.console) console.error("outbox: sending failed", error);
        return { outcome: "retry", status: 0, message: String(error) };
      })
      .then(function (result) {
        changed();
        return result;
      });
  }

  /** Send what is waiting now (or as soon as the round in progress ends). */
  function flushNow() {
    clearTimeout(loop.timer);
    if (loop.running) {
      loop.again = true;
      return loop.running;
    }
    loop.running = round()
      .catch(function (error) {
        if (window.console) console.error("outbox: round failed", error);
        backoff();
      })
      .then(function () {
        loop.running = null;
        if (loop.again) {
          loop.again = false;
          return flushNow();
        }
      });
    return loop.running;
  }

  /* ---------------------------------------------------------------- status */

  function summary() {
    return allEntries().then(function (entries) {
      var result = { waiting: 0, refused: 0, bytes: 0, entries: [], refused_entries: [] };
      entries
        .sort(function (a, b) {
          return a.created_at - b.created_at;
        })
        .forEach(function (entry) {
          if (entry.state === "refused") {
            result.refused++;
            if (result.refused_entries.length < REFUSED_REPORTED) {
              result.refused_entries.push({
                kind: entry.kind,
                status: entry.last_status || null,
                message: entry.last_error || "",
                created_at: entry.created_at,
              });
            }
          } else result.waiting++;
          result.bytes += entry.bytes || 0;
          result.entries.push({
            client_id: entry.client_id,
            state: entry.state,
            receipt_code: entry.receipt_code,
            bytes: entry.bytes,
            kind: entry.kind,
            attempts: entry.attempts,
            last_error: entry.last_error,
            recovered: entry.fields && entry.fields.recovered === "1",
          });
        });
      result.not_paired = loop.notPaired;
      return result;
    });
  }

  function storageEstimate() {
    if (!navigator.storage || !navigator.storage.estimate) {
      return Promise.resolve({ usage: null, quota: null });
    }
    return navigator.storage.estimate().then(
      function (estimate) {
        return { usage: estimate.usage, quota: estimate.quota };
      },
      function () {
        return { usage: null, quota: null };
      }
    );
  }

  var heartbeatTimer = 0;
  var changeTimer = 0;

  /** Tell the organiser's laptop how this kiosk is doing. Failures are silent. */
  function heartbeat() {
    clearTimeout(heartbeatTimer);
    heartbeatTimer = setTimeout(heartbeat, HEARTBEAT_MS);
    return Promise.all([summary(), storageEstimate()])
      .then(function (results) {
        var outbox = results[0];
        var storage = results[1];
        return net.send(
          api.heartbeat,
          {
            outbox_count: outbox.waiting,
            outbox_bytes: outbox.bytes,
            refused_count: outbox.refused,
            refused: outbox.refused_entries, // why, for the organiser's kiosk list
            resend_done: resendDone || null,
            storage_usage: storage.usage == null ? null : storage.usage,
            storage_quota: storage.quota == null ? null : storage.quota,
            app_version: appVersion,
          },
          { cache: "no-store" }
        );
      })
      .catch(function () {});
  }

  /** The outbox changed: tell the page now, and the laptop soon (one heartbeat per burst). */
  function changed() {
    summary().then(function (result) {
      emit("change", result);
    });
    clearTimeout(changeTimer);
    changeTimer = setTimeout(heartbeat, 500);
  }

  /* ---------------------------------------------------------------- start */

  var started = null;

  /**
   * Start the outbox: ``options`` = {api: {...urls}, csrfToken (else net.js's), appVersion, lang,
   * configVersion, onConfigChanged}. Recovers takes left by a closed tab, sends what is
   * waiting, and keeps sending in the background. Every session call (before each round, and
   * every minute while idle) compares the server's config_version for ``lang`` with
   * ``configVersion``; when they differ it calls ``onConfigChanged(version)``, which returns
   * true if the page is reloading now.
   */
  function start(options) {
    if (started) return started;
    options = options || {};
    Object.keys(options.api || {}).forEach(function (key) {
      if (options.api[key]) api[key] = options.api[key];
    });
    net.setCsrfToken(options.csrfToken);
    appVersion = options.appVersion || appVersion;
    pageLang = options.lang || "";
    configVersion = options.configVersion || "";
    onConfigChanged =
      typeof options.onConfigChanged === "function" ? options.onConfigChanged : null;
    setInterval(function () {
      // Nothing to send and not backing off: still ask, so a changed configuration arrives.
      if (!loop.running && !loop.failures) flushNow();
    }, CONFIG_CHECK_MS);
    window.addEventListener("online", function () {
      loop.failures = 0;
      flushNow();
    });
    started = recoverTakes()
      .catch(function (error) {
        if (window.console) console.error("outbox: recovering takes failed", error);
      })
      .then(function () {
        changed();
        flushNow();
        heartbeat();
      });
    return started;
  }

  window.voxpopOutbox = {
    start: start,
    on: on,
    add: add,
    beginTake: beginTake,
    addChunk: addChunk,
    dropTake: dropTake,
    recoverTakes: recoverTakes,
    takeReceiptCode: takeReceiptCode,
    randomCode: randomCode,
    summary: summary,
    flushNow: flushNow,
    heartbeat: heartbeat,
    storageEstimate: storageEstimate,
    /** The stored entry (with its Blob) for ``clientId``, or null. */
    entry: function (clientId) {
      return allEntries().then(function (entries) {
        for (var i = 0; i < entries.length; i++) {
          if (entries[i].client_id === clientId) {
            var entry = Object.assign({}, entries[i]);
            entry.blob = blobOf(entries[i], "blob");
            return entry;
          }
        }
        return null;
      });
    },
  };
})();
