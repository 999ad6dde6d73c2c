// Reel builder: the sequence before a render. The timeline (templates/studio/_reel_timeline.html)
// lists the cards and clips a render would join, each sized by its seconds; "Play preview"
// plays them in turn without rendering: a clip's delivery MP4 from its trim in to its trim out,
// a written reflection's quote card and the title cards for as long as the reel will show them.
// Selecting an item plays from there. After a reorder (reel.js says "voxpop:reel-changed") the
// timeline is fetched again as an HTML fragment. No library, no CDN.
(function () {
  "use strict";
  var box = document.getElementById("reel-sequence");
  var messagesElement = document.getElementById("reel-messages");
  if (!box || !messagesElement) { return; }
  var messages = JSON.parse(messagesElement.textContent);
  var player = document.getElementById("preview-player");
  var timelineBox = document.getElementById("reel-timeline-box");
  var video = document.getElementById("preview-video");
  var image = document.getElementById("preview-image");
  var card = document.getElementById("preview-card");
  var playButton = document.getElementById("preview-play");
  var clockText = document.getElementById("preview-clock");
  var now = document.getElementById("preview-now");
  var lengthText = document.getElementById("reel-length");
  var END_SLACK = 0.04; // seconds: stop a clip this close to its trim out (frames are ~0.033 s)

  var pieces = [];
  var current = -1;
  var playing = false;
  var stillTimer = 0;
  var stillLeftMs = 0;
  var stillStartedAt = 0;
  var frame = 0;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : match;
    });
  }

  function clock(seconds) {
    var whole = Math.round(Math.max(0, seconds || 0));
    var rest = whole % 60;
    return Math.floor(whole / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function seconds(piece) { return Number(piece.getAttribute("data-seconds")) || 0; }

  /** Read the timeline's items and size each by its length (a CSP allows CSSOM styles). */
  function readTimeline() {
    pieces = Array.prototype.slice.call(timelineBox.querySelectorAll(".timeline-piece"));
    pieces.forEach(function (piece) { piece.style.flexGrow = String(seconds(piece)); });
    if (player) { player.hidden = pieces.length === 0; }
    showClock();
  }

  function total() {
    return pieces.reduce(function (sum, piece) { return sum + seconds(piece); }, 0);
  }

  function elapsed() {
    var sum = 0;
    for (var i = 0; i < current && i < pieces.length; i += 1) { sum += seconds(pieces[i]); }
    var piece = pieces[current];
    if (!piece) { return 0; }
    if (piece.getAttribute("data-kind") === "clip") {
      sum += Math.max(0, video.currentTime - Number(piece.getAttribute("data-start")));
    } else {
      var left = playing && stillTimer ? stillLeftMs - (Date.now() - stillStartedAt) : stillLeftMs;
      sum += seconds(piece) - Math.max(0, left) / 1000;
    }
    return sum;
  }

  function showClock() {
    if (clockText) { clockText.textContent = clock(current < 0 ? 0 : elapsed()) + " / " + clock(total()); }
  }

  function setButton() {
    playButton.textContent = playing ? messages.pause : messages.play;
    playButton.setAttribute("aria-pressed", playing ? "true" : "false");
  }

  function stopStill() {
    if (stillTimer) {
      window.clearTimeout(stillTimer);
      stillLeftMs -= Date.now() - stillStartedAt;
      stillTimer = 0;
    }
  }

  function runStill() {
    stillStartedAt = Date.now();
    stillTimer = window.setTimeout(function () {
      stillTimer = 0;
      stillLeftMs = 0;
      next();
    }, Math.max(0, stillLeftMs));
  }

  /** While a clip plays, check every frame whether it reached its trim out. */
  function watch() {
    window.cancelAnimationFrame(frame);
    frame = window.requestAnimationFrame(function tick() {
      var piece = pieces[current];
      showClock();
      if (!playing || !piece) { return; }
      if (piece.getAttribute("data-kind") === "clip"
          && video.currentTime >= Number(piece.getAttribute("data-end")) - END_SLACK) {
        video.pause();
        next();
        return;
      }
      frame = window.requestAnimationFrame(tick);
    });
  }

  function playClip(piece) {
    var start = Number(piece.getAttribute("data-start"));
    var src = piece.getAttribute("data-src");
    video.hidden = false;
    function go() {
      video.currentTime = start;
      if (playing) {
        var started = video.play();
        if (started && started.catch) { started.catch(function () { /* paused meanwhile */ }); }
      }
    }
    if (video.getAttribute("src") !== src) {
      video.setAttribute("poster", piece.getAttribute("data-poster") || "");
      video.setAttribute("src", src);
      video.addEventListener("loadedmetadata", function once() {
        video.removeEventListener("loadedmetadata", once);
        if (pieces[current] === piece) { go(); }
      });
      video.load();
    } else {
      go();
    }
  }

  function showStill(piece) {
    video.pause();
    video.hidden = true;
    if (piece.getAttribute("data-kind") === "text") {
      image.setAttribute("src", piece.getAttribute("data-image"));
      image.hidden = false;
    } else {
      document.getElementById("preview-kicker").textContent = piece.getAttribute("data-kicker") || "";
      document.getElementById("preview-title").textContent = piece.getAttribute("data-title") || "";
      document.getElementById("preview-subtitle").textContent = piece.getAttribute("data-subtitle") || "";
      card.style.setProperty("--colour", piece.getAttribute("data-colour") || "");
      card.hidden = false;
    }
    stillLeftMs = seconds(piece) * 1000;
    if (playing) { runStill(); }
  }

  /** Make item ``index`` the current one and show (and, when playing, play) it. */
  function show(index) {
    stopStill();
    stillLeftMs = 0;
    current = index;
    pieces.forEach(function (piece, i) {
      piece.classList.toggle("is-current", i === index);
      if (i === index) { piece.setAttribute("aria-current", "step"); } else { piece.removeAttribute("aria-current"); }
    });
    var piece = pieces[index];
    image.hidden = true;
    card.hidden = true;
    now.textContent = fill(messages.now, { n: index + 1, total: pieces.length,
                                           what: piece.getAttribute("data-label") });
    if (piece.getAttribute("data-kind") === "clip") {
      playClip(piece);
    } else {
      showStill(piece);
    }
    if (playing) { watch(); }
    showClock();
  }

  function next() {
    if (current + 1 < pieces.length) {
      show(current + 1);
      return;
    }
    playing = false;
    setButton();
    now.textContent = messages.finished;
    current = -1; // Play starts again from the beginning
  }

  function play() {
    if (!pieces.length) { return; }
    playing = true;
    setButton();
    if (current < 0) {
      show(0);
      return;
    }
    var piece = pieces[current];
    if (piece.getAttribute("data-kind") === "clip") {
      var started = video.play();
      if (started && started.catch) { started.catch(function () { /* paused meanwhile */ }); }
    } else {
      runStill();
    }
    watch();
  }

  function pause() {
    playing = false;
    setButton();
    video.pause();
    stopStill();
    window.cancelAnimationFrame(frame);
    showClock();
  }

  playButton.addEventListener("click", function () {
    if (playing) { pause(); } else { play(); }
  });

  timelineBox.addEventListener("click", function (event) {
    var button = event.target.closest(".piece-button");
    if (!button) { return; }
    var index = pieces.indexOf(button.closest(".timeline-piece"));
    if (index < 0) { return; }
    playing = true;
    setButton();
    show(index);
  });

  video.addEventListener("ended", function () {
    if (playing && pieces[current] && pieces[current].getAttribute("data-kind") === "clip") { next(); }
  });
  video.addEventListener("error", function () {
    if (current < 0 || !pieces[current] || pieces[current].getAttribute("data-kind") !== "clip") { return; }
    now.textContent = messages.cannotPlay;
    if (playing) { window.setTimeout(next, 1500); }
  });

  // The new timeline is an HTML fragment (like the dashboard's): only an answer carrying our
  // header will do, not a login page after the session ended.
  document.addEventListener("voxpop:reel-changed", function () {
    fetch(box.getAttribute("data-timeline-url"), {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" }
    }).then(function (response) {
      if (!response.ok || response.headers.get("X-Voxpop-Fragment") !== "reel-timeline") {
        throw new Error(messages.previewFailed);
      }
      return response.text();
    }).then(function (html) {
      pause();
      current = -1;
      video.hidden = true;
      image.hidden = true;
      card.hidden = true;
      timelineBox.innerHTML = html;
      var fragment = timelineBox.querySelector("[data-length-text]");
      if (lengthText && fragment) { lengthText.textContent = fragment.getAttribute("data-length-text"); }
      readTimeline();
    }).catch(function () { now.textContent = messages.previewFailed; });
  });

  readTimeline();
  setButton();
})();
