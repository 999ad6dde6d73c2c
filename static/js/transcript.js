/* The transcript beside the review player (issue 16): highlights the words (or the caption
   line) being said while the clip plays, plays from a line's time or a word when selected, takes
   "Edit" to that caption's words in the editor below, and starts at ?t=SECONDS when the link
   from a search hit asks for it. Plain script, no dependencies. */
(function () {
  "use strict";
  var player = document.getElementById("player");
  var list = document.getElementById("transcript-lines");

  function seekTo(seconds) {
    if (!player || !isFinite(seconds)) return;
    var go = function () {
      player.currentTime = Math.max(0, seconds);
    };
    if (player.readyState >= 1) go();
    else player.addEventListener("loadedmetadata", go, { once: true });
  }

  // A search hit's link: /review/12?t=31.5 opens the clip at that moment.
  var asked = parseFloat(new URLSearchParams(window.location.search).get("t"));
  if (player && isFinite(asked)) seekTo(asked);

  if (!player || !list) return;
  var lines = Array.prototype.slice.call(list.querySelectorAll(".transcript-line"));
  var words = Array.prototype.slice.call(list.querySelectorAll(".word"));
  function span(el) {
    return { el: el, start: parseFloat(el.dataset.start), end: parseFloat(el.dataset.end) };
  }
  var lineSpans = lines.map(span);
  var wordSpans = words.map(span);
  var currentLine = null;
  var currentWord = null;

  function find(spans, t) {
    for (var i = 0; i < spans.length; i++) {
      if (t >= spans[i].start && t < spans[i].end) return spans[i].el;
    }
    return null;
  }

  function mark(previous, next, cls) {
    if (previous === next) return next;
    if (previous) {
      previous.classList.remove(cls);
      previous.removeAttribute("aria-current");
    }
    if (next) {
      next.classList.add(cls);
      next.setAttribute("aria-current", "true");
    }
    return next;
  }

  function follow() {
    var t = player.currentTime;
    var line = find(lineSpans, t);
    var changed = line !== currentLine;
    currentLine = mark(currentLine, line, "current");
    currentWord = mark(currentWord, find(wordSpans, t), "current-word");
    // Keep the line in view inside the panel, unless the reader is using the panel.
    if (changed && line && !list.matches(":hover") && !list.contains(document.activeElement)) {
      var top = line.offsetTop - list.offsetTop;
      if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - line.offsetHeight) {
        list.scrollTop = Math.max(0, top - list.clientHeight / 3);
      }
    }
  }

  var ticking = false;
  function loop() {
    follow();
    if (!player.paused && !player.ended) window.requestAnimationFrame(loop);
    else ticking = false;
  }
  player.addEventListener("play", function () {
    if (!ticking) {
      ticking = true;
      window.requestAnimationFrame(loop);
    }
  });
  player.addEventListener("seeked", follow);
  player.addEventListener("timeupdate", follow);

  list.addEventListener("click", function (event) {
    var target = event.target;
    var edit = target.closest("[data-edit-cue]");
    if (edit) {
      var field = document.getElementById("cue-text-" + edit.dataset.editCue);
      if (field) {
        event.preventDefault();
        field.scrollIntoView({ block: "center" });
        field.focus();
      }
      return;
    }
    var at = target.closest("[data-seek]") || target.closest(".word");
    if (!at) return;
    seekTo(parseFloat(at.dataset.seek || at.dataset.start));
    follow();
  });
})();
