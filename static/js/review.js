// Review queue and detail page: keyboard triage (j/k or arrows, a, h, s, 1-8, ?), changes sent
// with fetch and answered in JSON so the page updates in place, moving progress bars, and the
// trim and caption helpers. Every form also works without this script. No library, no CDN.
(function () {
  "use strict";
  var configElement = document.getElementById("review-config");
  if (!configElement) { return; }
  var config = JSON.parse(configElement.textContent);
  var messages = config.messages || {};
  var urls = config.urls || {};
  var net = window.voxpopNet;
  var isQueue = config.mode === "queue";
  var live = document.getElementById("review-live");
  var help = document.getElementById("review-shortcuts");
  var player = document.getElementById("player");
  var POLL_MS = 2000;
  var liveTimer = null;

  // -- messages ------------------------------------------------------------------------------

  function announce(text, isError) {
    if (!live || !text) { return; }
    live.textContent = text;
    live.classList.toggle("is-error", Boolean(isError));
    live.classList.add("is-shown");
    window.clearTimeout(liveTimer);
    liveTimer = window.setTimeout(function () { live.classList.remove("is-shown"); }, 2500);
  }

  // -- talking to the server -----------------------------------------------------------------

  // net.js: the CSRF token, and the server's message (or ours) when a change is refused.
  function send(url, body) {
    return net.send(url, body, { failed: messages.failedAction });
  }

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll(".review-item"));
  }

  function itemById(id) {
    return document.querySelector('.review-item[data-id="' + id + '"]');
  }

  // The queue's counts ("53 waiting · 0 approved …" and the captions work lists) follow each
  // change: every answer carries them, drawn by the server in the page's language. They are
  // not a live region (the change itself is announced); an answer overtaken by a later one
  // (its as_of is older) is not shown over it.
  var countsBox = document.getElementById("review-counts");
  var countsAsOf = countsBox ? Number(countsBox.getAttribute("data-as-of")) || 0 : 0;

  function showCounts(counts) {
    if (!countsBox || !counts || typeof counts.html !== "string" || counts.as_of < countsAsOf) { return; }
    countsAsOf = counts.as_of;
    var links = Array.prototype.slice.call(countsBox.querySelectorAll("a"));
    var focused = links.indexOf(document.activeElement);
    countsBox.innerHTML = counts.html;
    var again = countsBox.querySelectorAll("a")[focused];
    if (focused >= 0 && again) { again.focus(); }
  }

  function apply(item, reflection) {
    if (!item || !reflection) { return; }
    item.setAttribute("data-state", reflection.review_state);
    Array.prototype.forEach.call(item.querySelectorAll('button[name="state"][aria-pressed]'), function (button) {
      button.setAttribute("aria-pressed", button.value === reflection.review_state ? "true" : "false");
    });
    item.setAttribute("data-starred", reflection.starred ? "1" : "0");
    item.setAttribute("data-perspective", String(reflection.perspective.id));
    item.style.setProperty("--colour", reflection.perspective.colour);
    Array.prototype.forEach.call(item.querySelectorAll('[data-field="perspective"]'), function (el) {
      el.textContent = reflection.perspective.label;
    });
    Array.prototype.forEach.call(item.querySelectorAll("[data-perspective-choice]"), function (button) {
      var chosen = button.value === String(reflection.perspective.id);
      button.setAttribute("aria-pressed", chosen ? "true" : "false");
    });
  }

  // Changes to one reflection go one after another: each answer carries the whole state, so
  // an answer overtaking a later one (star, then approve) would otherwise undo it on screen.
  var chains = {};
  var pending = {};

  function act(item, path, fields) {
    var id = item.getAttribute("data-id");
    var body = new FormData();
    Object.keys(fields).forEach(function (key) { body.append(key, fields[key]); });
    pending[id] = (pending[id] || 0) + 1;
    item.classList.add("is-busy");
    var done = function () {
      pending[id] -= 1;
      if (!pending[id]) { item.classList.remove("is-busy"); }
    };
    var previous = chains[id] || Promise.resolve();
    var request = previous.catch(ignore).then(function () {
      return send(item.getAttribute("data-base") + path, body);
    }).then(function (data) {
      apply(item, data.reflection);
      showCounts(data.counts);
      announce(data.message);
      done();
      return data;
    }, function (error) {
      announce(error.message || messages.failedAction, true);
      done();
      throw error;
    });
    chains[id] = request;
    return request;
  }

  // Leave the page once every change sent from it has been answered: a page being left can
  // lose a request still on its way (an "a" on the last card, then straight to the next page).
  var bulkSending = null;

  function settled() {
    var waits = Object.keys(chains).map(function (id) { return chains[id].catch(ignore); });
    if (bulkSending) { waits.push(bulkSending.catch(ignore)); }
    return Promise.all(waits);
  }

  function busy() {
    return Boolean(bulkSending) || Object.keys(pending).some(function (id) { return pending[id] > 0; });
  }

  function leave(url) {
    settled().then(function () { window.location.href = url; });
  }

  function setState(item, state) { return act(item, "/state", { state: state }); }

  function toggleStar(item) {
    // Pressed twice before the first answer: toggle what was asked, not what is shown.
    var busy = pending[item.getAttribute("data-id")];
    var now = busy && item.hasAttribute("data-want-starred")
      ? item.getAttribute("data-want-starred") : item.getAttribute("data-starred");
    var starred = now !== "1";
    item.setAttribute("data-want-starred", starred ? "1" : "0");
    return act(item, "/star", { starred: starred ? "1" : "0" });
  }

  function setPerspective(item, key) {
    var chosen = (config.perspectives || []).filter(function (p) { return p.key === key; })[0];
    if (!chosen) { return null; }
    return act(item, "/perspective", { perspective: String(chosen.id) });
  }

  function ignore() { /* already announced */ }

  // -- the current reflection (queue) --------------------------------------------------------

  var current = null;

  function setCurrent(item, focus) {
    if (!item) { return; }
    if (current && current !== item) { current.classList.remove("is-current"); }
    current = item;
    item.classList.add("is-current");
    if (focus) {
      var link = item.querySelector("a.open");
      (link || item).focus({ preventScroll: true });
      item.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var all = items();
    var index = all.indexOf(current);
    var next = all[index + step];
    if (next) {
      setCurrent(next, true);
    } else if (step > 0 && urls.nextPage) {
      leave(urls.nextPage);
    } else if (step < 0 && urls.prevPage) {
      leave(urls.prevPage + "#last");
    } else {
      announce(step > 0 ? messages.last : messages.first);
    }
  }

  // -- playing in the card (queue) -----------------------------------------------------------

  // The card's "Play here" button puts the delivery MP4 (and its captions) where the thumbnail
  // was, and plays or pauses it; one card plays at a time. The video has its own controls.
  function showPlaying(button, playing) {
    var label = button.querySelector(".play-label");
    if (label) { label.textContent = playing ? messages.pause : messages.playHere; }
    button.classList.toggle("is-playing", playing);
  }

  function inlinePlayer(item, button) {
    var video = item.querySelector("video.inline-player");
    if (video) { return video; }
    video = document.createElement("video");
    video.className = "inline-player";
    video.controls = true;
    video.playsInline = true;
    video.preload = "auto";
    video.setAttribute("aria-label", button.textContent.replace(/\s+/g, " ").trim());
    video.src = button.getAttribute("data-play");
    var captions = button.getAttribute("data-captions");
    if (captions) {
      var track = document.createElement("track");
      track.kind = "captions";
      track.default = true;
      track.src = captions;
      track.srclang = button.getAttribute("data-captions-lang") || "";
      track.label = messages.captions || "";
      video.appendChild(track);
    }
    ["play", "pause", "ended"].forEach(function (name) {
      video.addEventListener(name, function () { showPlaying(button, !video.paused && !video.ended); });
    });
    var thumb = item.querySelector(".thumb");
    if (thumb) { thumb.hidden = true; }
    item.insertBefore(video, item.querySelector("a.open"));
    return video;
  }

  function playInline(button) {
    var item = button.closest(".review-item");
    var video = inlinePlayer(item, button);
    Array.prototype.forEach.call(document.querySelectorAll("video.inline-player"), function (other) {
      if (other !== video && !other.paused) { other.pause(); }
    });
    if (video.paused || video.ended) {
      var playing = video.play();
      if (playing && playing.catch) {
        playing.catch(function () { announce(messages.failedAction, true); });
      }
    } else {
      video.pause();
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.play-inline"), function (button) {
    button.hidden = false;
  });

  // -- the detail page -------------------------------------------------------------------------

  function go(url, fallbackMessage) {
    if (url) { leave(url); } else { announce(fallbackMessage); }
  }

  function clockMs(seconds) {
    var ms = Math.round(seconds * 1000);
    var minutes = Math.floor(ms / 60000);
    var rest = ms - minutes * 60000;
    var secs = Math.floor(rest / 1000);
    var millis = rest - secs * 1000;
    return minutes + ":" + (secs < 10 ? "0" : "") + secs + "." + ("00" + millis).slice(-3);
  }

  function parseSeconds(text) {
    var cleaned = String(text || "").trim().replace(",", ".");
    if (!cleaned) { return null; }
    var parts = cleaned.split(":");
    var total = 0;
    for (var i = 0; i < parts.length; i += 1) {
      if (!/^\d*\.?\d*$/.test(parts[i]) || parts[i] === "" || parts[i] === ".") { return NaN; }
      total = total * 60 + parseFloat(parts[i]);
    }
    return total;
  }

  function updateSnapped() {
    var form = document.getElementById("trim-form");
    var note = document.getElementById("trim-snapped");
    if (!form || !note || !messages.snapped) { return; }
    var duration = parseFloat(form.getAttribute("data-duration"));
    var step = config.keyframeSeconds || 2;
    var start = parseSeconds(form.elements.trim_in.value);
    var end = parseSeconds(form.elements.trim_out.value);
    if (start === null) { start = 0; }
    if (end === null) { end = duration; }
    if (isNaN(start) || isNaN(end) || !(start >= 0 && start < end && end <= duration + 0.0005)) {
      return;
    }
    // As voxpop/media/reel.py snap_trim does it.
    var snappedIn = Math.max(0, Math.floor(start / step + 1e-6) * step);
    var snappedOut = Math.min(duration, Math.ceil(end / step - 1e-6) * step);
    if (snappedOut - snappedIn < 0.5) { snappedIn = 0; snappedOut = duration; }
    var format = function (value) { return String(Math.round(value * 1000) / 1000); };
    // A trim whose nearest cut points are the clip's own ends cuts nothing off the reel: say so
    // (as views.trim_note does), rather than "it will use 0 s → 6 s" as if it were trimmed.
    var trimmed = start > 0 || end < duration;
    var whole = snappedIn <= 0 && snappedOut >= Math.round(duration * 1000) / 1000 - 0.0005;
    var text = trimmed && whole && messages.wholeClip ? messages.wholeClip : messages.snapped
      .replace("%(start)s", format(snappedIn)).replace("%(end)s", format(snappedOut));
    if (note.textContent !== text) { note.textContent = text; }  // read out only when it changes
  }

  function fromPlayer(button) {
    if (!player) { announce(messages.noPlayer, true); return; }
    var targetId = button.getAttribute("data-from-player");
    var input = targetId ? document.getElementById(targetId) : button.previousElementSibling;
    if (!input) { return; }
    var time = player.currentTime || 0;
    input.value = targetId ? String(Math.round(time * 1000) / 1000) : clockMs(time);
    if (targetId) { updateSnapped(); announce(messages.trimFromPlayer); }
  }

  function renumberCues() {
    // The number shown, and the one in each Remove button's name ("Remove caption 3").
    Array.prototype.forEach.call(document.querySelectorAll("#cue-rows .cue-row"), function (row, index) {
      Array.prototype.forEach.call(row.querySelectorAll(".cue-number, .cue-number-copy"), function (cell) {
        cell.textContent = String(index + 1);
      });
    });
  }

  function addCue() {
    var rows = document.getElementById("cue-rows");
    var blank = rows && rows.querySelector(".cue-new");
    if (!blank) { return; }
    var copy = blank.cloneNode(true);
    Array.prototype.forEach.call(copy.querySelectorAll("input, textarea"), function (field) { field.value = ""; });
    var last = rows.querySelector(".cue-row:last-child");
    var lastEnd = last ? parseSeconds(last.querySelector('[name="cue_end"]').value) : null;
    if (lastEnd !== null && !isNaN(lastEnd)) { copy.querySelector('[name="cue_start"]').value = clockMs(lastEnd); }
    rows.appendChild(copy);
    renumberCues();
    copy.querySelector("textarea").focus();
  }

  function removeCue(button) {
    var row = button.closest(".cue-row");
    var rows = document.querySelectorAll("#cue-rows .cue-row");
    if (rows.length > 1) {
      row.parentNode.removeChild(row);
    } else {
      Array.prototype.forEach.call(row.querySelectorAll("input, textarea"), function (field) { field.value = ""; });
    }
    renumberCues();
  }

  function addTag(name) {
    var input = document.getElementById("tags");
    if (!input) { return; }
    var tags = input.value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
    var known = tags.some(function (t) { return t.toLowerCase() === name.toLowerCase(); });
    if (!known) { tags.push(name); }
    input.value = tags.join(", ");
    input.focus();
  }

  // -- processing status ---------------------------------------------------------------------

  function statusLine(className, text) {
    var p = document.createElement("p");
    p.className = "status " + className;
    p.textContent = text;
    return p;
  }

  function showFinished(item, state) {
    var box = item.querySelector("[data-status-box]");
    if (!box) { return; }
    box.textContent = "";
    item.setAttribute("data-status", state.status);
    if (state.status === "ready") {
      box.appendChild(statusLine("status-ready", messages.ready));
      var thumb = item.querySelector(".thumb");
      if (thumb && !thumb.querySelector("img") && item.getAttribute("data-thumb")) {
        var img = document.createElement("img");
        img.alt = "";
        img.src = item.getAttribute("data-thumb");
        thumb.textContent = "";
        thumb.appendChild(img);
      }
    } else if (state.status === "failed") {
      box.appendChild(statusLine("status-failed", messages.failed + " " + (state.reason || "")));
      if (state.retry === false) { return; } // its file is gone: trying again cannot help
      var retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = messages.retry;
      retry.addEventListener("click", function () { retryItem(item); });
      box.appendChild(retry);
    }
  }

  function showProcessing(item) {
    var box = item.querySelector("[data-status-box]");
    if (!box) { return; }
    var id = item.getAttribute("data-id");
    box.textContent = "";
    var line = statusLine("status-processing", "");
    line.setAttribute("data-watch", id);
    var bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute("data-progress", id);
    line.appendChild(bar);
    box.appendChild(line);
    item.setAttribute("data-status", "received");
    schedulePoll();
  }

  function retryItem(item) {
    act(item, "/retry", {}).then(function () { showProcessing(item); }, ignore);
  }

  var poller = null;

  function watching() {
    return document.querySelectorAll("[data-watch]");
  }

  function schedulePoll() {
    if (poller || !config.progressUrl || !watching().length) { return; }
    poller = net.poll(config.progressUrl, function (data) {
      Array.prototype.forEach.call(watching(), function (el) {
        var id = el.getAttribute("data-watch");
        var state = data.reflections[id];
        if (!state) { return; }
        if (state.status === "ready" || state.status === "failed") {
          showFinished(itemById(id), state);
          return;
        }
        net.showProgress(id, state.progress);
      });
      if (watching().length) { return POLL_MS; }
      poller = null;
      return false;
    }, { everyMs: POLL_MS, delayMs: POLL_MS });
  }

  // -- keyboard ------------------------------------------------------------------------------

  function toggleHelp() {
    if (!help) { return; }
    if (typeof help.showModal !== "function") { help.hidden = !help.hidden; return; }
    if (help.open) { help.close(); } else { help.showModal(); }
  }

  function typingIn(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function onQueueKey(key) {
    if (!current) { setCurrent(items()[0], false); }
    if (!current) { return false; }
    switch (key) {
      case "j": case "ArrowDown": case "ArrowRight": move(1); return true;
      case "k": case "ArrowUp": case "ArrowLeft": move(-1); return true;
      case "a": case "h":
        setState(current, key === "a" ? "approved" : "hidden").catch(ignore);
        move(1);
        return true;
      case "s": toggleStar(current).catch(ignore); setCurrent(current, true); return true;
      case "p":
        var play = current.querySelector("button.play-inline");
        if (play) { playInline(play); }
        return Boolean(play);
      case "x":
        var box = current.querySelector('input[name="ids"]');
        if (box) { box.checked = !box.checked; }
        return true;
      case "Enter":
        if (document.activeElement && document.activeElement.closest && document.activeElement.closest("a, button")) {
          return false;  // the focused link or button does its own thing
        }
        window.location.href = current.querySelector("a.open").href;
        return true;
      default:
        if (/^[1-9]$/.test(key)) {
          var sent = setPerspective(current, key);
          if (sent) { sent.catch(ignore); setCurrent(current, true); }
          return true;
        }
    }
    return false;
  }

  function onDetailKey(key, event) {
    var item = document.querySelector(".review-item");
    if (!item) { return false; }
    var onMedia = event.target === player;
    switch (key) {
      case "j": go(urls.next, messages.last); return true;
      case "k": go(urls.prev, messages.first); return true;
      case "ArrowRight": case "ArrowLeft":
        if (onMedia) { return false; }  // the player seeks
        go(key === "ArrowRight" ? urls.next : urls.prev, key === "ArrowRight" ? messages.last : messages.first);
        return true;
      case "a": case "h":
        setState(item, key === "a" ? "approved" : "hidden").then(function () {
          if (urls.next) { leave(urls.next); }
        }, ignore);
        return true;
      case "s": toggleStar(item).catch(ignore); return true;
      case "u": case "Escape": go(urls.queue); return true;
      case "p":
        if (!player) { return false; }
        if (player.paused) { player.play(); } else { player.pause(); }
        return true;
      case "i": case "o":
        var button = document.querySelector('[data-from-player="' + (key === "i" ? "trim-in" : "trim-out") + '"]');
        if (button) { fromPlayer(button); }
        return Boolean(button);
      default:
        if (/^[1-9]$/.test(key)) {
          var sent = setPerspective(item, key);
          if (sent) { sent.catch(ignore); }
          return true;
        }
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
    // Turned off by the user (WCAG 2.1.4): no one-character key (a letter, digit or ?) does
    // anything; arrows, Enter and Esc still move, open and go back.
    if (config.singleKeys === false && event.key.length === 1) { return; }
    if (event.key === "?") {
      if (typingIn(event.target)) { return; }
      toggleHelp();
      event.preventDefault();
      return;
    }
    if (help && help.open) { return; }  // the dialog has the keyboard (Esc closes it)
    if (typingIn(event.target)) { return; }
    var handled = isQueue ? onQueueKey(event.key) : onDetailKey(event.key, event);
    if (handled) { event.preventDefault(); }
  });

  // -- forms, sent in place ------------------------------------------------------------------

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var action = form.getAttribute("data-action");
    if (form.id === "bulk-form") {
      event.preventDefault();
      var body = new FormData(form);
      if (event.submitter && event.submitter.name) { body.append(event.submitter.name, event.submitter.value); }
      if (!body.getAll("ids").length) { announce(messages.noSelection, true); return; }
      var sending = send(form.action, body);
      bulkSending = sending;
      var sent = function () { if (bulkSending === sending) { bulkSending = null; } };
      sending.then(sent, sent);
      sending.then(function (data) {
        showCounts(data.counts);
        (data.reflections || []).forEach(function (reflection) {
          var item = itemById(reflection.id);
          apply(item, reflection);
          var box = item && item.querySelector('input[name="ids"]');
          if (box) { box.checked = false; }
        });
        var all = document.getElementById("select-all");
        if (all) { all.checked = false; }
        announce(data.message);
      }, function (error) { announce(error.message || messages.failedAction, true); });
      return;
    }
    if (!action) { return; }
    var item = form.closest(".review-item");
    if (!item) { return; }
    event.preventDefault();
    var fields = {};
    if (event.submitter && event.submitter.name) { fields[event.submitter.name] = event.submitter.value; }
    if (action === "retry") { retryItem(item); return; }
    act(item, "/" + action, fields).catch(ignore);
  });

  document.addEventListener("click", function (event) {
    // Newer / Older: wait for changes still on their way (see leave).
    var pageLink = event.target.closest ? event.target.closest(".pages a[href]") : null;
    if (pageLink && busy() && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      leave(pageLink.href);
      return;
    }
    var target = event.target.closest ? event.target.closest("button, .review-item") : null;
    if (!target) { return; }
    if (target.hasAttribute("data-from-player")) { fromPlayer(target); return; }
    if (target.hasAttribute("data-add-cue")) { addCue(); return; }
    if (target.hasAttribute("data-remove-cue")) { removeCue(target); return; }
    if (target.hasAttribute("data-tag")) { addTag(target.getAttribute("data-tag")); return; }
    if (target.hasAttribute("data-play")) { playInline(target); return; }
    if (isQueue && target.classList.contains("review-item")) { setCurrent(target, false); }
  });

  document.addEventListener("focusin", function (event) {
    var item = isQueue && event.target.closest ? event.target.closest(".review-item") : null;
    if (item) { setCurrent(item, false); }
  });

  var selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      Array.prototype.forEach.call(document.querySelectorAll('input[name="ids"]'), function (box) {
        box.checked = selectAll.checked;
      });
    });
  }

  var trimForm = document.getElementById("trim-form");
  if (trimForm) { trimForm.addEventListener("input", updateSnapped); }
  var addCueButton = document.querySelector("[data-add-cue]");
  if (addCueButton) { addCueButton.hidden = false; }

  // The skip link lands on the first reflection itself, ready for the keyboard.
  var skip = document.getElementById("skip-to-reflections");
  if (skip) {
    skip.addEventListener("click", function (event) {
      var first = items()[0];
      if (!first) { return; }
      event.preventDefault();
      setCurrent(first, true);
    });
  }

  // -- start ---------------------------------------------------------------------------------

  if (isQueue) {
    var all = items();
    setCurrent(window.location.hash === "#last" ? all[all.length - 1] : all[0], window.location.hash === "#last");
  }
  schedulePoll();

  // For tests and the curious: what the keyboard acts on.
  window.voxpopReview = { current: function () { return current; } };
})();
