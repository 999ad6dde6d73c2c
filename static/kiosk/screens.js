/*
 * voxpop kiosk screens: one page, one state machine, one <section data-screen> per screen —
 * the delegate's steps (perspective, question, consent, video/audio/text, review, thanks),
 * the roving interviewer's home and name, the idle reset, the outbox status line, and
 * reloading an idle kiosk for a changed configuration.
 *
 * Exposes window.voxpopScreens.create(kiosk); kiosk.js makes one. The record screen's camera
 * and recorder are recorder.js's; keeping and sending reflections is outbox.js's. Every word
 * it shows comes from the page (the template) or the kiosk's server-rendered strings
 * (kiosk.text). A plain script, no build step, no syntax newer than ES2017: iPad Safari 15+
 * and Chromium.
 *
 * Privacy: the page only ever shows the current delegate's reflection. Going back to the
 * attract screen (Done, Back from the first step, or the idle timeout) clears the screens;
 * a submitted reflection waits in the outbox (never shown again) until it has been sent.
 * After Submit the delegate never waits for the network.
 */
(function () {
  "use strict";

  // The thank-you screen says "saved on this kiosk" if the server has not confirmed by then.
  var CONFIRM_WAIT_MS = 3000;
  var STORAGE_WARN_RATIO = 0.8;

  /**
   * Set up the screens and show the first. ``kiosk``: {config (the page's #kiosk-config),
   * text (kiosk.js: get, format, plural), outbox (window.voxpopOutbox or null)}.
   */
  function create(kiosk) {
    var config = kiosk.config;
    var text = kiosk.text;
    var outbox = kiosk.outbox;
    var eventConfig = config.event || {};
    var maxSeconds = Math.max(1, Number(eventConfig.max_seconds) || 90);
    var idleSeconds = Math.max(5, Number(eventConfig.idle_seconds) || 60);
    var textMaxChars = Math.max(1, Number(eventConfig.text_max_chars) || 1000);

    /* ---------------------------------------------------------------- dom */

    function $(selector, root) {
      return (root || document).querySelector(selector);
    }
    function $all(selector, root) {
      return Array.prototype.slice.call((root || document).querySelectorAll(selector));
    }

    var screens = {};
    $all("section[data-screen]").forEach(function (section) {
      screens[section.getAttribute("data-screen")] = section;
    });

    var el = {
      topbar: $("#topbar"),
      chip: $("#perspective-chip"),
      promptText: $("#prompt-text"),
      promptBinds: $all('[data-bind="prompt-text"]'),
      consentBoxes: $all('input[name="consent"]'),
      consentNext: $("#consent-next"),
      consentHint: $("#consent-hint"),
      firstNameField: $("#first-name-field"),
      firstName: $("#first-name"),
      firstNameHint: $("#first-name-hint"),
      reviewVideo: $("#review-video"),
      reviewAudio: $("#review-audio"),
      text: $("#reflection-text"),
      textCounter: $("#text-counter"),
      textSubmit: $("#text-submit"),
      receiptCode: $("#receipt-code"),
      receiptQr: $("#receipt-qr"),
      thanksSaved: $("#thanks-saved"),
      outboxStatus: $("#outbox-status"),
      outboxWaiting: $("#outbox-waiting"),
      outboxRefused: $("#outbox-refused"),
      outboxNotPaired: $("#outbox-not-paired"),
      storageWarning: $("#storage-warning"),
    };
    el.text.maxLength = textMaxChars;

    /* ---------------------------------------------------------------- roving */
    // A kiosk paired as "roving" is an interviewer's phone. The interviewer's name is kept on
    // the phone (localStorage) and sent as `interviewer` with every reflection (the server
    // records the consent as given aloud to them). Their home screen ("Next interview")
    // replaces the attract screen; "Next person" goes straight back to the perspectives.

    var roving = !!(
      config.kiosk &&
      config.kiosk.mode === "roving" &&
      screens.roving &&
      screens.interviewer
    );
    var INTERVIEWER_KEY = "voxpop-interviewer";
    var INTERVIEWER_MAX = 80; // as the server allows
    var HOME_SCREENS = ["attract", "roving", "interviewer"];
    var interviewer = { name: "", returnTo: null };
    var rovingEl = roving
      ? {
          form: $("#interviewer-form"),
          input: $("#interviewer-name"),
          save: $("#interviewer-save"),
          cancel: $("#interviewer-cancel"),
          labels: $all('[data-bind="interviewer-label"]'),
        }
      : null;

    function cleanName(value) {
      return String(value || "")
        .replace(/\s+/g, " ")
        .trim()
        .slice(0, INTERVIEWER_MAX);
    }

    function loadInterviewer() {
      try {
        interviewer.name = cleanName(window.localStorage.getItem(INTERVIEWER_KEY));
      } catch (error) {
        interviewer.name = ""; // no localStorage: asked once per page load instead
      }
      renderInterviewer();
    }

    function renderInterviewer() {
      if (!roving) return;
      var label = text.format("interviewer_label", { name: interviewer.name });
      rovingEl.labels.forEach(function (node) {
        node.textContent = label;
      });
    }

    function saveInterviewer() {
      var name = cleanName(rovingEl.input.value);
      if (!name) return;
      interviewer.name = name;
      try {
        window.localStorage.setItem(INTERVIEWER_KEY, name);
      } catch (error) {
        /* kept for this page load only */
      }
      renderInterviewer();
      var back = interviewer.returnTo;
      interviewer.returnTo = null;
      show(back && HOME_SCREENS.indexOf(back) === -1 ? back : "roving");
    }

    /** Ask the interviewer's name; Save or Cancel comes back to ``returnTo``. */
    function askInterviewer(returnTo) {
      interviewer.returnTo = returnTo || null;
      rovingEl.input.value = interviewer.name;
      rovingEl.save.disabled = !interviewer.name;
      rovingEl.cancel.hidden = !interviewer.name;
      show("interviewer");
      rovingEl.input.focus({ preventScroll: true });
    }

    /** Where "start again" leads: the attract screen, or the interviewer's home (or name). */
    function homeScreen() {
      if (!roving) return "attract";
      return interviewer.name ? "roving" : "interviewer";
    }

    /** Roving: the outbox status line goes with the screen the interviewer is looking at. */
    function placeOutboxStatus(name) {
      if (!roving) return;
      var slot = $("[data-outbox-slot]", screens[name]);
      if (slot && el.outboxStatus.parentNode !== slot) slot.appendChild(el.outboxStatus);
    }

    if (roving) {
      rovingEl.input.addEventListener("input", function () {
        rovingEl.save.disabled = cleanName(rovingEl.input.value) === "";
      });
      rovingEl.form.addEventListener("submit", function (event) {
        event.preventDefault(); // Save and the keyboard's Done both land here
        saveInterviewer();
      });
      loadInterviewer();
    }

    /* ---------------------------------------------------------------- state */

    var firstPromptId = config.prompts && config.prompts.length ? config.prompts[0].id : null;

    var session; // everything about the current delegate; replaced wholesale on reset
    var currentScreen = "attract";
    var submitting = false; // between Submit and the thank-you screen (a moment)
    var thanks = { clientId: null, timer: 0 };
    var idleTimer = 0;
    var leavingPage = false;

    function newSession() {
      return {
        perspective: null,
        promptId: firstPromptId,
        consents: [],
        firstName: "",
        mode: null,
        blob: null,
        blobUrl: null,
        durationMs: 0,
        clientId: null,
        takeId: null, // the recording's chunks in IndexedDB until it is submitted or dropped
        recorderMime: "",
        recorderFallback: 0, // which fallback step recorded the take (issue 14)
      };
    }
    session = newSession();

    var recorder = window.voxpopRecorder.create({
      text: text,
      outbox: outbox,
      maxSeconds: maxSeconds,
      countdownSeconds: config.kiosk && config.kiosk.countdown_seconds, // recorder: 3 if none
      facingMode: roving ? "environment" : "user", // an interviewer films the person opposite
      onScreen: function () {
        return currentScreen === "record";
      },
      leaving: function () {
        return leavingPage;
      },
      newId: newClientId,
      takeFields: reflectionFields,
      onTake: finishRecording,
    });


    /* ---------------------------------------------------------------- screens */

    var BACK = {
      perspective: "attract",
      prompt: "perspective",
      consent: "prompt",
      mode: "consent",
      record: "mode",
      text: "mode",
    };

    function show(name) {
      if (!screens[name]) throw new Error("Unknown kiosk screen: " + name);
      var leaving = currentScreen;
      if (leaving === "record" && name !== "record") recorder.release();
      Object.keys(screens).forEach(function (key) {
        screens[key].hidden = key !== name;
      });
      currentScreen = name;
      document.body.dataset.screen = name;
      el.topbar.hidden = HOME_SCREENS.indexOf(name) !== -1;
      placeOutboxStatus(name);
      window.scrollTo(0, 0);
      var heading = $("[tabindex='-1']", screens[name]);
      if (heading && leaving !== name) heading.focus({ preventScroll: true });
      resetIdleTimer();
      if (staleConfig && RELOAD_SCREENS.indexOf(name) !== -1) {
        // Back home after a delegate's turn: now the page can take the new configuration.
        clearTimeout(configTimer);
        configTimer = setTimeout(reloadForConfig, CONFIG_SETTLE_MS);
      }
    }

    function goBack() {
      var target = BACK[currentScreen];
      if (!target) return;
      if (target === "attract") {
        resetKiosk();
        return;
      }
      if (target === "mode") session.clientId = null;
      show(target);
    }

    /** Forget the current delegate entirely and show the attract screen. */
    function resetKiosk() {
      recorder.stop(true);
      recorder.release();
      discardRecording();
      clearTimeout(thanks.timer);
      thanks.clientId = null;
      el.thanksSaved.textContent = "";
      el.text.value = "";
      updateTextCounter();
      el.firstName.value = "";
      el.firstNameField.hidden = true;
      el.consentBoxes.forEach(function (box) {
        box.checked = false;
      });
      updateConsent();
      el.receiptCode.textContent = "";
      el.receiptQr.hidden = true;
      el.receiptQr.removeAttribute("src");
      session = newSession();
      selectPrompt(firstPromptId);
      setAccent(null);
      if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
      if (homeScreen() === "interviewer") askInterviewer(null);
      else show(homeScreen());
    }

    /* ---------------------------------------------------------------- idle */

    // The last part of the idle time shows a warning with a countdown ("Still there?"), so a
    // slow reader is not sent back to the start without notice; any tap carries on.
    var warnSeconds = Math.min(15, Math.floor(idleSeconds / 3));
    var idleWarning = {
      box: $("#idle-warning"),
      text: $("#idle-warning-text"),
      stay: $("#idle-warning-stay"),
      timer: 0,
      ticker: 0,
    };

    function hideIdleWarning() {
      clearTimeout(idleWarning.timer);
      clearInterval(idleWarning.ticker);
      idleWarning.box.hidden = true;
    }

    function resetIdleTimer() {
      clearTimeout(idleTimer);
      hideIdleWarning();
      if (HOME_SCREENS.indexOf(currentScreen) !== -1) return; // nothing to forget there
      idleTimer = setTimeout(onIdle, idleSeconds * 1000);
      if (warnSeconds > 0) {
        idleWarning.timer = setTimeout(showIdleWarning, (idleSeconds - warnSeconds) * 1000);
      }
    }

    function showIdleWarning() {
      if (idleKeepsSession()) return;
      var endsAt = Date.now() + warnSeconds * 1000;
      function tick() {
        var left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
        idleWarning.text.textContent = text.format("idle_warning", { seconds: left });
      }
      tick();
      idleWarning.box.hidden = false;
      idleWarning.stay.focus({ preventScroll: true });
      idleWarning.ticker = setInterval(tick, 1000);
    }

    /** True when idling must not forget this delegate now (it tries again later). */
    function idleKeepsSession() {
      // Never cut off someone mid-sentence. A submitted reflection is safe in the outbox.
      if (recorder.recording() || submitting) return true;
      // Nor while someone watches or listens to their take.
      if (!el.reviewVideo.paused || !el.reviewAudio.paused) return true;
      // Roving: the phone is in the interviewer's hand. An interview already recorded (or
      // typed) waits for them to send it; idling forgets only what nobody has said yet.
      return !!(roving && (session.blob || el.text.value.trim()));
    }

    function onIdle() {
      if (idleKeepsSession()) {
        resetIdleTimer();
        return;
      }
      hideIdleWarning();
      // A delegate who walked away from the review screen without pressing Submit: the take is
      // never thrown away by a timer. It goes to the outbox marked recovered=1, so a facilitator
      // knows the delegate did not review it (as for a take cut off by a closed tab).
      if (session.blob && session.takeId && outbox) {
        session.takeId = null; // keep its chunks: discardRecording would drop them
        outbox
          .recoverTakes()
          .then(function () {
            return outbox.flushNow();
          })
          .catch(function (error) {
            if (window.console) console.warn("outbox: could not keep the take", error);
          });
      }
      resetKiosk();
    }

    ["pointerdown", "keydown", "touchstart", "input", "wheel"].forEach(function (type) {
      document.addEventListener(type, resetIdleTimer, { capture: true, passive: true });
    });
    idleWarning.stay.addEventListener("click", resetIdleTimer);

    /* ---------------------------------------------------------------- colours */

    function parseHex(colour) {
      var match = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(colour || "").trim());
      if (!match) return null;
      var hex = match[1];
      if (hex.length === 3) hex = hex.replace(/./g, "$&$&");
      return [0, 2, 4].map(function (i) {
        return parseInt(hex.substr(i, 2), 16);
      });
    }

    function luminance(rgb) {
      var c = rgb.map(function (v) {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
      });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    }

    /** Black or white, whichever reads better on the given background. */
    function inkFor(colour) {
      var rgb = parseHex(colour);
      if (!rgb) return "#ffffff";
      var l = luminance(rgb);
      var onWhite = 1.05 / (l + 0.05);
      var onBlack = (l + 0.05) / 0.05;
      return onBlack >= onWhite ? "#111111" : "#ffffff";
    }

    function setAccent(perspective) {
      var root = document.documentElement.style;
      if (!perspective) {
        root.removeProperty("--accent");
        root.removeProperty("--accent-ink");
        el.chip.hidden = true;
        el.chip.textContent = "";
        return;
      }
      root.setProperty("--accent", perspective.colour);
      root.setProperty("--accent-ink", inkFor(perspective.colour));
      el.chip.textContent = perspective.label;
      el.chip.hidden = false;
    }

    $all("[data-perspective]").forEach(function (tile) {
      var colour = tile.getAttribute("data-colour");
      if (parseHex(colour)) {
        tile.style.backgroundColor = colour;
        tile.style.color = inkFor(colour);
      }
    });

    /* ---------------------------------------------------------------- steps */

    function findPerspective(slug) {
      var list = config.perspectives || [];
      for (var i = 0; i < list.length; i++) if (list[i].slug === slug) return list[i];
      return null;
    }

    function selectPrompt(id) {
      var list = config.prompts || [];
      var prompt = null;
      for (var i = 0; i < list.length; i++) if (String(list[i].id) === String(id)) prompt = list[i];
      if (!prompt) return;
      session.promptId = prompt.id;
      el.promptText.textContent = prompt.text;
      el.promptBinds.forEach(function (node) {
        node.textContent = prompt.text;
      });
      $all("[data-prompt-id]").forEach(function (button) {
        var selected = button.getAttribute("data-prompt-id") === String(prompt.id);
        button.setAttribute("aria-pressed", selected ? "true" : "false");
      });
    }

    function tickedConsents() {
      return el.consentBoxes
        .filter(function (box) {
          return box.checked;
        })
        .map(function (box) {
          return box.value;
        });
    }

    function requiredTicked() {
      return el.consentBoxes.every(function (box) {
        return box.getAttribute("data-required") !== "true" || box.checked;
      });
    }

    /** "Show my first name" ticked with no name: the server would refuse the reflection. */
    function nameMissing() {
      return tickedConsents().indexOf("name") !== -1 && el.firstName.value.trim() === "";
    }

    function consentComplete() {
      return requiredTicked() && !nameMissing();
    }

    function updateConsent() {
      el.consentNext.disabled = !consentComplete();
      el.consentHint.hidden = requiredTicked();
      var nameTicked = tickedConsents().indexOf("name") !== -1;
      el.firstNameField.hidden = !nameTicked;
      el.firstNameHint.hidden = !nameMissing();
    }

    el.firstName.addEventListener("input", updateConsent);

    el.consentBoxes.forEach(function (box) {
      box.addEventListener("change", function () {
        updateConsent();
        if (box.value === "name" && box.checked) {
          el.firstName.focus({ preventScroll: true });
          // Keep the field clear of the sticky Back/Next bar (and of the on-screen keyboard).
          el.firstName.scrollIntoView({ block: "center" });
        }
      });
    });

    function updateTextCounter() {
      el.textCounter.textContent = text.format("too_long", {
        count: el.text.value.length,
        max: textMaxChars,
      });
      el.textSubmit.disabled = el.text.value.trim() === "";
    }
    el.text.addEventListener("input", updateTextCounter);

    function newClientId() {
      if (window.crypto && typeof window.crypto.randomUUID === "function") {
        return window.crypto.randomUUID();
      }
      var bytes = new Uint8Array(16);
      if (window.crypto && window.crypto.getRandomValues) {
        window.crypto.getRandomValues(bytes);
      } else {
        for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
      }
      bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
      bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
      var hex = Array.prototype.map
        .call(bytes, function (b) {
          return (b < 16 ? "0" : "") + b.toString(16);
        })
        .join("");
      return [
        hex.slice(0, 8),
        hex.slice(8, 12),
        hex.slice(12, 16),
        hex.slice(16, 20),
        hex.slice(20),
      ].join("-");
    }

    function chooseMode(mode) {
      session.mode = mode;
      session.clientId = null;
      discardRecording();
      if (mode === "text") {
        show("text");
        updateTextCounter();
        el.text.focus();
        return;
      }
      // Safari only lets an AudioContext run if it is created or resumed inside a tap.
      recorder.wakeAudio();
      show("record");
      recorder.preview(session.mode);
    }

    function finishRecording(blob, durationMs, takeId, type, fallback) {
      discardRecording();
      session.blob = blob;
      session.durationMs = durationMs;
      session.blobUrl = URL.createObjectURL(blob);
      session.clientId = takeId; // the take's id becomes the reflection's idempotency key
      session.takeId = takeId;
      session.recorderMime = type;
      session.recorderFallback = fallback || 0;
      var player = session.mode === "video" ? el.reviewVideo : el.reviewAudio;
      el.reviewVideo.hidden = session.mode !== "video";
      el.reviewAudio.hidden = session.mode === "video";
      player.src = session.blobUrl;
      player.load();
      show("review"); // leaving "record" releases the camera and microphone
    }

    /** Drop the recorded clip and its blob URL. */
    function discardRecording() {
      [el.reviewVideo, el.reviewAudio].forEach(function (player) {
        player.pause();
        player.removeAttribute("src");
        player.load();
      });
      if (session.blobUrl) URL.revokeObjectURL(session.blobUrl);
      // Not submitted (retake, back, or left on the review screen): forget its chunks too.
      if (session.takeId && outbox) outbox.dropTake(session.takeId);
      session.takeId = null;
      session.blob = null;
      session.blobUrl = null;
      session.durationMs = 0;
    }

    /* ---------------------------------------------------------------- submit */

    /** The reflection's metadata as the server takes it (tus metadata: all strings). */
    function reflectionFields(clientId, kind, mimeType, fallback) {
      var fields = {
        client_id: clientId,
        perspective: session.perspective,
        prompt: String(session.promptId),
        kind: kind,
        consent: session.consents.join(","),
        consent_version: (config.consent && config.consent.version) || "",
        first_name: session.consents.indexOf("name") !== -1 ? session.firstName : "",
        lang: config.lang || document.documentElement.lang || "",
      };
      // Roving: the consent was given aloud to this interviewer (the server requires it).
      if (roving) fields.interviewer = interviewer.name;
      if (kind !== "text") {
        fields.recorder_mime = mimeType || "";
        // Which fallback step made it (0: the first choice; issue 14), for the review page.
        fields.recorder_fallback = String(fallback || 0);
        fields.filetype = String(mimeType || "").split(";")[0].trim();
        fields.filename = window.voxpopRecorder.filenameFor(mimeType, kind);
      }
      return fields;
    }

    /** Keep the reflection in the outbox, then thank the delegate: never wait for the network. */
    function submit() {
      if (submitting) return;
      var kind = session.mode;
      var words = el.text.value.trim();
      if (kind === "text" && words === "") return;
      if (kind !== "text" && !session.blob) return;
      if (!outbox) return;
      submitting = true;
      var clientId = session.clientId || newClientId();
      session.clientId = clientId;
      var mimeType = kind === "text" ? "" : session.recorderMime || session.blob.type;
      var fields = reflectionFields(clientId, kind, mimeType, session.recorderFallback);
      if (kind === "text") {
        fields.text = words;
      } else {
        fields.duration_ms = String(session.durationMs);
      }
      var takeId = kind === "text" ? null : session.takeId;
      outbox
        .takeReceiptCode()
        .then(function (code) {
          fields.receipt_code = code;
          return outbox.add(fields, kind === "text" ? null : session.blob, takeId);
        })
        .then(function (result) {
          submitting = false;
          if (takeId) session.takeId = null; // now part of the outbox entry
          showThanks(fields.receipt_code, clientId);
          return result;
        })
        .catch(function (error) {
          submitting = false;
          if (window.console) console.error("submit failed", error);
        });
    }

    /** Draw the withdrawal link's QR code here (works offline); the server's image otherwise. */
    function showQr(code) {
      var url = config.api && config.api.withdraw_url;
      if (url && window.qrcode) {
        try {
          var qr = window.qrcode(0, "M");
          qr.addData(url.replace("CODE", code));
          qr.make();
          var svg = qr.createSvgTag({ cellSize: 8, margin: 2, scalable: true });
          el.receiptQr.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
          el.receiptQr.hidden = false;
          return;
        } catch (error) {
          if (window.console) console.warn("QR code failed", error);
        }
      }
      if (config.api && config.api.receipt_qr) {
        el.receiptQr.src = config.api.receipt_qr.replace("CODE", encodeURIComponent(code));
        el.receiptQr.hidden = false;
      }
    }

    function showThanks(code, clientId) {
      // The reflection is in the outbox: nothing of it stays in the page.
      discardRecording();
      el.text.value = "";
      session.clientId = null;
      el.receiptCode.textContent = code;
      showQr(code);
      el.thanksSaved.textContent = "";
      thanks.clientId = clientId;
      clearTimeout(thanks.timer);
      thanks.timer = setTimeout(function () {
        if (thanks.clientId === clientId) el.thanksSaved.textContent = text.get("saved_on_kiosk");
      }, CONFIRM_WAIT_MS);
      show("thanks");
    }

    /* ---------------------------------------------------------------- outbox status */

    var storageLow = false;

    function renderOutboxStatus(summary) {
      var waiting = summary.waiting || 0;
      var refused = summary.refused || 0;
      el.outboxWaiting.textContent = waiting ? text.plural("waiting", waiting) : "";
      el.outboxWaiting.hidden = !waiting;
      el.outboxRefused.textContent = refused ? text.plural("refused", refused) : "";
      el.outboxRefused.hidden = !refused;
      el.outboxNotPaired.hidden = !summary.not_paired;
      el.storageWarning.hidden = !storageLow;
    }

    function refreshOutboxStatus() {
      if (!outbox) return Promise.resolve();
      return outbox.summary().then(renderOutboxStatus);
    }

    function checkStorage() {
      if (!outbox) return;
      outbox.storageEstimate().then(function (estimate) {
        var low = !!(estimate.quota && estimate.usage / estimate.quota > STORAGE_WARN_RATIO);
        if (low !== storageLow) {
          storageLow = low;
          refreshOutboxStatus();
        }
      });
    }

    /* ---------------------------------------------------------------- a changed configuration */

    // The organiser changed the event (a prompt, a perspective, the consent wording, ...): the
    // outbox's session call answers a config_version that differs from this page's. The page
    // reloads itself to take it (the service worker fetches the page network-first), but only
    // on its home screen: never in the middle of a delegate's (or an interviewee's) turn.
    var RELOAD_SCREENS = ["attract", "roving"]; // not "interviewer": someone may be typing
    var CONFIG_RELOAD_KEY = "voxpop-config-reload";
    var CONFIG_RELOAD_AGAIN_MS = 10 * 60 * 1000;
    var CONFIG_SETTLE_MS = 1000;
    var staleConfig = null; // the server's config_version, when it is not this page's
    var configTimer = 0;

    function configChanged(version) {
      staleConfig = version;
      return reloadForConfig();
    }

    /** Reload for the new configuration if nobody is using the kiosk; true if reloading. */
    function reloadForConfig() {
      clearTimeout(configTimer);
      if (!staleConfig || RELOAD_SCREENS.indexOf(currentScreen) === -1) return false;
      if (submitting || recorder.recording() || leavingPage) return false;
      // Never a reload loop: if a reload for this version brought the old page again (the
      // laptop answered too slowly and the service worker showed its copy), wait a while.
      try {
        var last = JSON.parse(window.sessionStorage.getItem(CONFIG_RELOAD_KEY) || "null");
        if (last && last.version === staleConfig && Date.now() - last.at < CONFIG_RELOAD_AGAIN_MS) {
          return false;
        }
        window.sessionStorage.setItem(
          CONFIG_RELOAD_KEY,
          JSON.stringify({ version: staleConfig, at: Date.now() })
        );
      } catch (error) {
        return false; // without a record of it, a reload could repeat forever: keep this page
      }
      window.location.reload();
      return true;
    }



    /** The server confirmed a reflection: if it is the one on the thank-you screen, say so. */
    function delivered(detail) {
      if (thanks.clientId !== detail.client_id) return;
      clearTimeout(thanks.timer);
      el.thanksSaved.textContent = "";
      // The server's code is the truth (a random offline code may have been taken).
      if (detail.receipt_code && detail.receipt_code !== el.receiptCode.textContent) {
        el.receiptCode.textContent = detail.receipt_code;
        showQr(detail.receipt_code);
      }
    }

    /** The server refused a reflection for good: if it is the one on the thank-you screen,
     * say plainly that it is kept here and an organiser is needed (not "sent by itself"). */
    function refused(detail) {
      if (thanks.clientId !== detail.client_id) return;
      clearTimeout(thanks.timer);
      el.thanksSaved.textContent = text.get("kept_refused");
    }

    function outboxChanged(summary) {
      renderOutboxStatus(summary);
      checkStorage();
    }

    /* ---------------------------------------------------------------- actions */

    var actions = {
      start: function () {
        resetKiosk();
        show("perspective");
      },
      back: goBack,
      next: function () {
        if (currentScreen === "prompt") {
          show("consent");
          updateConsent();
        } else if (currentScreen === "consent") {
          if (!consentComplete()) return;
          session.consents = tickedConsents();
          session.firstName =
            session.consents.indexOf("name") !== -1 ? el.firstName.value.trim() : "";
          show("mode");
        }
      },
      "record-start": function () {
        recorder.countdown();
      },
      "record-stop": function () {
        recorder.stop(false);
      },
      "fallback-audio": function () {
        chooseMode("audio");
      },
      "fallback-text": function () {
        chooseMode("text");
      },
      retake: function () {
        discardRecording();
        session.clientId = null;
        recorder.wakeAudio();
        show("record");
        recorder.preview(session.mode);
      },
      submit: submit,
      done: resetKiosk,
      // Roving (the interviewer's phone).
      "next-interview": nextInterview,
      "next-person": nextInterview,
      "change-interviewer": function () {
        askInterviewer(currentScreen);
      },
      "cancel-interviewer": function () {
        var back = interviewer.returnTo;
        interviewer.returnTo = null;
        show(back && back !== "interviewer" ? back : "roving");
      },
    };

    /** Roving: forget the last interviewee, keep the interviewer, and ask for a perspective. */
    function nextInterview() {
      if (roving && !interviewer.name) {
        askInterviewer(null);
        return;
      }
      resetKiosk();
      show("perspective");
    }

    document.addEventListener("click", function (event) {
      var target = event.target.closest ? event.target.closest("button") : null;
      if (!target || target.disabled) return;
      var section = target.closest("section[data-screen]");
      if (section && section.getAttribute("data-screen") !== currentScreen) return;
      if (target.hasAttribute("data-perspective")) {
        var perspective = findPerspective(target.getAttribute("data-perspective"));
        if (!perspective) return;
        session.perspective = perspective.slug;
        setAccent(perspective);
        show("prompt");
      } else if (target.hasAttribute("data-prompt-id")) {
        selectPrompt(target.getAttribute("data-prompt-id"));
      } else if (target.hasAttribute("data-mode")) {
        chooseMode(target.getAttribute("data-mode"));
      } else {
        var action = actions[target.getAttribute("data-action")];
        if (action) action();
      }
    });

    // Leaving the page (reload, language switch): let go of the camera straight away.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) leavingPage = false; // back from the browser's page cache
    });
    window.addEventListener("pagehide", function () {
      leavingPage = true;
      recorder.stop(true);
      recorder.release();
    });

    /* ---------------------------------------------------------------- start */

    $all("[data-string]").forEach(function (node) {
      var words = text.get(node.getAttribute("data-string"));
      if (words) node.textContent = words;
    });
    selectPrompt(firstPromptId);
    updateConsent();
    updateTextCounter();
    if (homeScreen() === "interviewer") askInterviewer(null);
    else show(homeScreen());

    return {
      /** The screen showing now. */
      state: function () {
        return currentScreen;
      },
      /** Roving: the interviewer's name kept on this phone ("" when not set or not roving). */
      interviewer: function () {
        return roving ? interviewer.name : "";
      },
      outboxChanged: outboxChanged,
      refreshOutboxStatus: refreshOutboxStatus,
      checkStorage: checkStorage,
      delivered: delivered,
      refused: refused,
      configChanged: configChanged,
    };
  }

  window.voxpopScreens = { create: create };
})();
