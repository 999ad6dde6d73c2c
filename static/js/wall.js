// The live wall (templates/wall/wall.html): one reflection at a time, coloured by its
// perspective, with the live balance of perspectives. Every 2 s it asks /wall/api/state whether
// anything changed (If-None-Match; 304 when not): new approvals join the front of the queue,
// and an item that was withdrawn, unapproved or hidden leaves the screen at once. When the
// server cannot be reached for a while the wall clears itself rather than keep showing what
// may since have been withdrawn. No library, no CDN: the venue may be offline.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("wall-config").textContent);
  var initial = JSON.parse(document.getElementById("wall-state").textContent);
  var version = document.body.getAttribute("data-version");
  var languages = config.languages;
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  var STALE_MS = 10000; // no answer for this long: clear the screen
  var CLIP_MAX_MS = 90000;

  function $(id) { return document.getElementById(id); }
  var el = {
    status: $("wall-status"), empty: $("wall-empty"), item: $("wall-item"),
    perspective: $("wall-perspective"), clip: $("wall-clip"), video: $("wall-video"),
    quote: $("wall-quote"), name: $("wall-name"), prompt: $("wall-prompt"),
    bar: $("wall-bar"), legend: $("wall-legend")
  };

  var byId = {};
  var order = [];     // every item id, oldest first
  var queue = [];     // ids up next; new approvals go to the front
  var current = null; // the id on screen
  var shownAs = null; // the item as it was drawn (a changed item is drawn again)
  var timer = null;
  var paused = false;
  var lastContact = Date.now();
  var stale = false;

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function span(text, lang, className) {
    var node = document.createElement("span");
    node.textContent = text;
    if (lang) { node.lang = lang; }
    if (className) { node.className = className; }
    return node;
  }

  // A per-language dict written in each of the wall's languages (Welsh first, when both).
  function fillLabels(node, labels, prefix) {
    clear(node);
    languages.forEach(function (lang) {
      var text = labels[lang] || "";
      if (!text) { return; }
      var part = span("", lang);
      var kicker = prefix && node.getAttribute("data-" + prefix + "-" + lang);
      if (kicker) { part.appendChild(span(kicker + " ", null, "wall-kicker")); }
      part.appendChild(document.createTextNode(text));
      node.appendChild(part);
    });
  }

  function stopVideo() {
    var video = el.video;
    video.onended = video.ontimeupdate = video.onpause = video.onerror = null;
    video.pause();
    clear(video);
    video.removeAttribute("src");
    video.removeAttribute("poster");
    video.load();
    el.clip.hidden = true;
  }

  // Take the current item off the screen now (withdrawn, unapproved, or the wall went stale).
  function takeDown() {
    window.clearTimeout(timer);
    timer = null;
    stopVideo();
    el.item.hidden = true;
    el.item.removeAttribute("data-id");
    current = null;
    shownAs = null;
    el.empty.hidden = order.length > 0 && !stale;
  }

  function dwellMs(item) {
    var words = item.quote.split(/\s+/).length;
    return Math.min(20000, Math.max(8000, 4000 + words * 330));
  }

  function schedule(ms) {
    window.clearTimeout(timer);
    timer = paused ? null : window.setTimeout(next, ms);
  }

  function showQuote(item) {
    el.quote.hidden = false;
    el.quote.className = "wall-quote wall-quote-" + item.size;
    el.quote.textContent = item.quote;
    el.quote.lang = item.lang; // the delegate's own words, in the language they used
  }

  function playClip(item) {
    var video = el.video;
    var fragment = "#t=" + item.start + (item.end ? "," + item.end : "");
    var track = document.createElement("track");
    track.kind = "captions";
    track.srclang = item.lang;
    track.label = item.lang;
    track.src = item.captions;
    track["default"] = true;
    video.appendChild(track);
    video.poster = item.poster;
    video.src = item.video + fragment;
    el.clip.hidden = false;
    el.quote.hidden = true;
    var done = false;
    function finish() {
      if (done || current !== item.id) { return; }
      done = true;
      schedule(1500);
    }
    video.onended = finish;
    video.ontimeupdate = function () {
      if (item.end && video.currentTime >= item.end - 0.05) { finish(); }
    };
    video.onpause = function () { if (!paused) { finish(); } };
    function fallBack() {
      // The clip cannot play here: show its checked words instead.
      if (done || current !== item.id) { return; }
      done = true;
      stopVideo();
      showQuote(item);
      schedule(dwellMs(item));
    }
    video.onerror = fallBack;
    var play = video.play();
    // Rejected when the clip cannot play, or when it was taken down first (then a no-op).
    if (play && play["catch"]) { play["catch"](fallBack); }
    var length = ((item.end || item.duration || 30) - item.start) * 1000;
    schedule(Math.min(CLIP_MAX_MS, length + 4000)); // a safety net if no event comes
  }

  function show(item) {
    window.clearTimeout(timer);
    stopVideo();
    current = item.id;
    shownAs = JSON.stringify(item);
    el.empty.hidden = true;
    el.item.hidden = false;
    el.item.setAttribute("data-id", String(item.id));
    el.item.setAttribute("data-perspective", item.perspective);
    el.item.setAttribute("data-kind", item.kind);
    fillLabels(el.perspective, item.label);
    fillLabels(el.prompt, item.prompt, "asked");
    el.name.hidden = !item.name;
    el.name.textContent = item.name ? "— " + item.name : "";
    if (!reducedMotion.matches) {
      el.item.classList.remove("is-entering");
      void el.item.offsetWidth; // restart the fade
      el.item.classList.add("is-entering");
    }
    if (item.video && !reducedMotion.matches) {
      playClip(item);
    } else {
      // Reduced motion (or audio, or text): the words, still.
      showQuote(item);
      schedule(dwellMs(item));
    }
  }

  function next() {
    timer = null;
    if (stale) { return; }
    if (!queue.length) {
      queue = order.filter(function (id) { return id !== current || order.length === 1; });
    }
    var id = queue.shift();
    if (id === undefined || !byId[id]) {
      if (id !== undefined) { next(); return; }
      takeDown();
      return;
    }
    show(byId[id]);
  }

  function drawBalance(balance) {
    clear(el.bar);
    clear(el.legend);
    balance.forEach(function (entry) {
      if (entry.count > 0) {
        var part = document.createElement("span");
        part.className = "wall-bar-part";
        part.setAttribute("data-perspective", entry.perspective);
        part.style.setProperty("flex-grow", String(entry.count));
        el.bar.appendChild(part);
      }
      var row = document.createElement("li");
      row.setAttribute("data-perspective", entry.perspective);
      if (!entry.count) { row.className = "is-missing"; }
      row.appendChild(span(String(entry.count), null, "wall-count"));
      var label = document.createElement("span");
      label.className = "wall-legend-label";
      fillLabels(label, entry.label);
      row.appendChild(label);
      el.legend.appendChild(row);
    });
  }

  function apply(doc, first) {
    var before = byId;
    byId = {};
    doc.items.forEach(function (item) { byId[item.id] = item; });
    order = doc.items.map(function (item) { return item.id; });
    var fresh = first ? [] : order.filter(function (id) { return !before[id]; });
    queue = fresh.concat(queue.filter(function (id) { return byId[id] && fresh.indexOf(id) === -1; }));
    drawBalance(doc.balance);
    if (current !== null && !byId[current]) {
      takeDown(); // withdrawn, unapproved or hidden: off the screen now
      next();
    } else if (current !== null && JSON.stringify(byId[current]) !== shownAs) {
      show(byId[current]); // its words or files changed: draw it again
    } else if (current === null) {
      next();
    }
  }

  function setStatus() {
    el.status.hidden = !(stale || paused);
    el.status.classList.toggle("is-stale", stale);
    el.status.classList.toggle("is-paused", paused && !stale);
  }

  function poll() {
    fetch(config.state_url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Accept": "application/json", "If-None-Match": "\"" + version + "\"" }
    })
      .then(function (response) {
        if (response.status === 304) { return null; }
        if (!response.ok) { throw new Error("wall state " + response.status); }
        return response.json();
      })
      .then(function (doc) {
        lastContact = Date.now();
        var wasStale = stale;
        stale = false;
        if (doc) {
          version = doc.version;
          apply(doc, false);
        }
        if (wasStale && current === null) { next(); }
        setStatus();
      })
      .catch(function () {
        if (Date.now() - lastContact > STALE_MS && !stale) {
          stale = true; // cannot check for withdrawals: show nothing rather than stale words
          takeDown();
          el.empty.hidden = true;
          setStatus();
        }
      })
      .then(function () { window.setTimeout(poll, config.poll_ms); });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === " " || event.key === "p") {
      event.preventDefault();
      paused = !paused;
      if (paused) {
        window.clearTimeout(timer);
        timer = null;
        if (!el.video.paused) { el.video.pause(); }
      } else {
        next();
      }
      setStatus();
    } else if (event.key === "ArrowRight" || event.key === "n") {
      next();
    }
  });

  window.voxpopWall = {
    current: function () { return current; },
    version: function () { return version; }
  };
  apply(initial, true);
  window.setTimeout(poll, config.poll_ms);
})();
