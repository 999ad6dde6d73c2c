// Reel builder: drag-and-drop and keyboard (Alt+Up / Alt+Down) reordering, saved as one JSON
// order (then tells reel-preview.js, which plays the sequence before a render); and a live render
// progress bar that swaps in the new preview when the render is done.
// Every control also works as a plain form without this script. No library, no CDN.
(function () {
  "use strict";
  var messagesElement = document.getElementById("reel-messages");
  if (!messagesElement) { return; }
  var messages = JSON.parse(messagesElement.textContent);
  var net = window.voxpopNet;
  var live = document.getElementById("reel-live");
  var list = document.getElementById("reel-items");
  var box = document.getElementById("render-box");
  var POLL_MS = 1000;

  function announce(text, isError) {
    if (!live || !text) { return; }
    live.textContent = text;
    live.classList.toggle("is-error", Boolean(isError));
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : match;
    });
  }

  function clock(seconds) {
    var whole = Math.round(seconds || 0);
    var rest = whole % 60;
    return Math.floor(whole / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  /** POST ``payload`` as JSON (net.js: CSRF token, the server's message on refusal). */
  function post(url, payload) {
    return net.send(url, payload, { failed: messages.failed });
  }

  // -- reordering ----------------------------------------------------------------------------

  function currentOrder() {
    return Array.prototype.map.call(list.querySelectorAll(".reel-item"), function (item) {
      return Number(item.getAttribute("data-id"));
    });
  }

  function saveOrder(movedItem) {
    var order = currentOrder();
    post(list.getAttribute("data-order-url"), { order: order }).then(function (data) {
      if (movedItem) {
        announce(fill(messages.moved, { n: order.indexOf(Number(movedItem.getAttribute("data-id"))) + 1,
                                        total: order.length }));
      } else {
        announce(data.message || messages.saved);
      }
      if (data.state) { showState(data.state); }
      // The preview (reel-preview.js) fetches the new sequence.
      document.dispatchEvent(new CustomEvent("voxpop:reel-changed"));
    }).catch(function (error) {
      announce(error.message, true);
      window.setTimeout(function () { window.location.reload(); }, 1500);
    });
  }

  if (list) {
    var dragged = null;
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest(".reel-item");
      if (!dragged) { return; }
      dragged.classList.add("is-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.getAttribute("data-id"));
    });
    list.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      var over = event.target.closest(".reel-item");
      if (!over || over === dragged) { return; }
      var box = over.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (event) { event.preventDefault(); });
    list.addEventListener("dragend", function () {
      if (!dragged) { return; }
      dragged.classList.remove("is-dragging");
      var moved = dragged;
      dragged = null;
      saveOrder(moved);
    });
    list.addEventListener("keydown", function (event) {
      var item = event.target.closest(".reel-item");
      if (!item || event.target !== item || !event.altKey) { return; }
      if (event.key === "ArrowUp" && item.previousElementSibling) {
        list.insertBefore(item, item.previousElementSibling);
      } else if (event.key === "ArrowDown" && item.nextElementSibling) {
        list.insertBefore(item.nextElementSibling, item);
      } else {
        return;
      }
      event.preventDefault();
      item.focus();
      saveOrder(item);
    });
  }

  // -- render progress -----------------------------------------------------------------------

  var stateText = document.getElementById("render-state");
  // The note at the top after "Render reel" (studio/reel.html): the render's state too.
  var renderFlash = document.getElementById("render-flash");
  var bar = document.getElementById("render-progress");
  var output = document.getElementById("reel-output");
  var preview = document.getElementById("reel-preview");
  var shownMp4 = preview ? preview.getAttribute("src") : null;
  var polling = false;

  /** What a render that is not running has left, as the template words it. */
  function finishedText(state) {
    if (state.status === "ready") {
      return state.stale ? messages.stale : fill(messages.ready, { length: clock(state.duration) });
    }
    if (state.status === "failed") { return messages.failedRender + " " + (state.message || ""); }
    return state.message ? messages.nothing : messages.notRendered;
  }

  function setText(element, text) {
    if (element.textContent !== text) { element.textContent = text; }  // live: say it once
  }

  function showState(state) {
    if (!stateText) { return; }
    var failed = !state.busy && state.status === "failed";
    if (state.busy) {
      bar.hidden = false;
      bar.value = state.progress;
      bar.textContent = net.percent(state.progress);
      setText(stateText, messages.rendering + " " + net.percent(state.progress));
      if (renderFlash) { setText(renderFlash, messages.renderingReel); }
      startPolling();
    } else {
      bar.hidden = true;
      var text = finishedText(state);
      setText(stateText, text);
      if (renderFlash) { setText(renderFlash, text); }
    }
    stateText.classList.toggle("error-text", failed);
    if (renderFlash) { renderFlash.classList.toggle("error", failed); }
    if (state.files) { showFiles(state.files); }
  }

  function showFiles(files) {
    if (!output || !preview) { return; }
    if (!files.mp4) { output.hidden = true; return; }
    output.hidden = false;
    if (files.mp4 !== shownMp4) {
      shownMp4 = files.mp4;
      preview.setAttribute("src", files.mp4);
      var track = preview.querySelector("track");
      if (files.vtt) {
        if (!track) {
          track = document.createElement("track");
          track.kind = "captions";
          track.default = true;
          track.label = messages.captions;
          preview.appendChild(track);
        }
        track.setAttribute("src", files.vtt);
      }
      preview.load();
    }
  }

  function startPolling() {
    if (polling || !box) { return; }
    polling = true;
    net.poll(box.getAttribute("data-status-url"), function (state) {
      showState(state);
      if (state.busy) { return POLL_MS; }
      polling = false;
      return false;
    }, { everyMs: POLL_MS, delayMs: POLL_MS, retryMs: POLL_MS * 3 });
  }

  if (box && box.getAttribute("data-busy") === "true") { startPolling(); }
})();
