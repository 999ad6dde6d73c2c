/*
 * voxpop kiosk: one page, one state machine, one <section data-screen> per screen.
 *
 * Vanilla JS, nothing fetched from elsewhere (the venue is offline): the vendored
 * tus-js-client and qrcode-generator, and outbox.js (window.voxpopOutbox), which keeps every
 * submitted reflection in IndexedDB until the server has confirmed it.
 * Targets iPad Safari 15+ and Chromium, so no syntax newer than ES2020.
 *
 * Privacy: the page only ever shows the current delegate's reflection. Going back to the
 * attract screen (Done, Back from the first step, or the idle timeout) clears the screens;
 * a submitted reflection waits in the outbox (never shown again) until it has been sent.
 * After Submit the delegate never waits for the network.
 */
(function () {
  "use strict";

  var DEFAULT_STRINGS = {
    saved_on_kiosk: "Your recording is saved on this kiosk and will be sent automatically.",
    storage_low: "This kiosk is running out of storage space — please tell an organiser.",
    camera_denied:
      "We can't use the camera. You can record audio only or write your thoughts instead.",
    mic_denied: "We can't use the microphone. You can write your thoughts instead.",
    not_paired: "This kiosk is no longer paired. Please ask an organiser.",
    too_long: "{count} of {max} characters",
    recording: "Recording",
    // Not in config.strings; the template carries their translations (#kiosk-messages).
    nothing_recorded: "Nothing was recorded. Please try again.",
    try_another_way: "That didn't record. Trying another way — please record again.",
    no_recorder: "This device can't record here. You can write your thoughts instead.",
    starting_microphone: "Starting the microphone…",
    unknown_error: "Unexpected answer from the server",
  };

  // The recorder's choices, best first (issue 14). Safari (iPad) records only MP4, H.264 + AAC;
  // Chromium records WebM, and H.264 + Opus in MP4 when WebM is not offered. The H.264 level is
  // filled in from the camera's actual size ({level}, see h264Level): level 3.0 (42E01E)
  // cannot hold 1280x720, and WebKit then records nothing at all. After each take the kiosk
  // checks that something arrived; if not, it tells the delegate and falls back to the next
  // type (recorderChoice, tookNothing).
  var VIDEO_TYPES = [
    'video/mp4;codecs="avc1.42E0{level},mp4a.40.2"',
    'video/webm;codecs="vp8,opus"',
    'video/webm;codecs="vp9,opus"',
    "video/webm",
    'video/mp4;codecs="avc1.42E0{level},opus"',
    "video/mp4",
  ];
  var AUDIO_TYPES = [
    'audio/mp4;codecs="mp4a.40.2"',
    "audio/webm;codecs=opus",
    "audio/webm",
    "audio/ogg;codecs=opus",
    "audio/mp4",
  ];
  // Types that recorded nothing on this device, remembered across reloads (per mode).
  var RECORDER_FAILED_KEY = "voxpop-recorder-failed";

  var COUNTDOWN_FROM = 3;
  // The thank-you screen says "saved on this kiosk" if the server has not confirmed by then.
  var CONFIRM_WAIT_MS = 3000;
  var STORAGE_WARN_RATIO = 0.8;
  var DEFAULT_PLURALS = {
    waiting: { one: "{count} recording waiting to send", other: "{count} recordings waiting to send" },
    refused: {
      one: "{count} recording could not be sent — please tell an organiser",
      other: "{count} recordings could not be sent — please tell an organiser",
    },
  };

  /* ---------------------------------------------------------------- config */

  var config = JSON.parse(document.getElementById("kiosk-config").textContent);
  var eventConfig = config.event || {};
  // The event's accent colour, set through the CSSOM (the CSP allows no style="" attribute).
  if (eventConfig.accent) {
    document.documentElement.style.setProperty("--event-accent", eventConfig.accent);
    document.documentElement.style.setProperty("--event-accent-ink", eventConfig.accent_ink || "#ffffff");
  }
  var maxSeconds = Math.max(1, Number(eventConfig.max_seconds) || 90);
  var idleSeconds = Math.max(5, Number(eventConfig.idle_seconds) || 60);
  var textMaxChars = Math.max(1, Number(eventConfig.text_max_chars) || 1000);
  var strings = {};
  Object.keys(DEFAULT_STRINGS).forEach(function (key) {
    strings[key] = DEFAULT_STRINGS[key];
  });
  document.querySelectorAll("#kiosk-messages [data-message]").forEach(function (el) {
    var text = el.textContent.trim();
    if (text) strings[el.getAttribute("data-message")] = text;
  });
  Object.keys(config.strings || {}).forEach(function (key) {
    if (config.strings[key]) strings[key] = config.strings[key];
  });
  var plurals = config.plurals || DEFAULT_PLURALS;
  var pluralRules = null;
  try {
    pluralRules = new Intl.PluralRules(config.lang || document.documentElement.lang || "en");
  } catch (error) {
    pluralRules = null;
  }

  /** Fill "{name}" placeholders in a translated string. */
  function format(key, values) {
    return String(strings[key] || key).replace(/\{(\w+)\}/g, function (whole, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name)
        ? String(values[name])
        : whole;
    });
  }

  /** The plural form of ``name`` for ``count`` (CLDR categories, as the catalogue has them). */
  function plural(name, count) {
    var forms = plurals[name] || DEFAULT_PLURALS[name];
    var category = pluralRules ? pluralRules.select(count) : count === 1 ? "one" : "other";
    var text = forms[category] || forms.other || forms.one || "";
    return text.replace(/\{count\}/g, String(count));
  }

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
    preview: $("#preview"),
    audioVisual: $("#audio-visual"),
    stageWait: $("#stage-wait"),
    countdown: $("#countdown"),
    recIndicator: $("#rec-indicator"),
    levelMeter: $("#level-meter"),
    recTimer: $("#rec-timer"),
    deviceError: $("#device-error"),
    deviceErrorMessage: $("#device-error-message"),
    fallbackAudio: $("#fallback-audio"),
    recordStart: $("#record-start"),
    recordStop: $("#record-stop"),
    recordBack: $("#record-back"),
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
  el.preview.muted = true; // iOS only autoplays a muted inline video, and it must not echo

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
    var text = String(strings.interviewer_label || "Interviewer: {name}").replace(
      /\{name\}/g,
      interviewer.name
    );
    rovingEl.labels.forEach(function (node) {
      node.textContent = text;
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
  var media = {
    stream: null, // live MediaStream from getUserMedia
    recorder: null,
    recording: false, // true from the countdown until the recorder has stopped
    startedAt: 0,
    timers: [],
    meterFrame: 0,
    source: null, // MediaStreamAudioSourceNode feeding the analyser
    requestId: 0, // guards against getUserMedia answering after the delegate moved on
  };
  var audio = { context: null, analyser: null, buffer: null };
  var outbox = window.voxpopOutbox;
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
    if (leaving === "record" && name !== "record") releaseMedia();
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
    stopRecorder(true);
    releaseMedia();
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

  function resetIdleTimer() {
    clearTimeout(idleTimer);
    if (HOME_SCREENS.indexOf(currentScreen) !== -1) return; // nothing to forget there
    idleTimer = setTimeout(onIdle, idleSeconds * 1000);
  }

  function onIdle() {
    // Never cut off someone mid-sentence. A submitted reflection is safe in the outbox.
    if (media.recording || submitting) {
      resetIdleTimer();
      return;
    }
    // Nor while someone watches or listens to their take.
    if (!el.reviewVideo.paused || !el.reviewAudio.paused) {
      resetIdleTimer();
      return;
    }
    // Roving: the phone is in the interviewer's hand. An interview already recorded (or
    // typed) waits for them to send it; idling forgets only what nobody has said yet.
    if (roving && (session.blob || el.text.value.trim())) {
      resetIdleTimer();
      return;
    }
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

  function consentComplete() {
    return el.consentBoxes.every(function (box) {
      return box.getAttribute("data-required") !== "true" || box.checked;
    });
  }

  function updateConsent() {
    var complete = consentComplete();
    el.consentNext.disabled = !complete;
    el.consentHint.hidden = complete;
    var nameTicked = tickedConsents().indexOf("name") !== -1;
    el.firstNameField.hidden = !nameTicked;
  }

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
    el.textCounter.textContent = format("too_long", {
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
    ensureAudioContext();
    show("record");
    startPreview();
  }

  /* ---------------------------------------------------------------- media */

  function ensureAudioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    try {
      if (!audio.context) {
        audio.context = new Context();
        audio.analyser = audio.context.createAnalyser();
        audio.analyser.fftSize = 1024;
        audio.buffer = new Uint8Array(audio.analyser.fftSize);
      }
      if (audio.context.state === "suspended") audio.context.resume();
    } catch (error) {
      audio.context = null; // the meter is a nicety; recording works without it
    }
    return audio.context;
  }

  /* ---- the recorder's choice of type, and falling back when a type records nothing ---- */

  /** The H.264 level (hex, as in avc1.42E0xx) that holds a picture of this size. */
  function h264Level(width, height) {
    var macroblocks = Math.ceil((width || 1280) / 16) * Math.ceil((height || 720) / 16);
    if (macroblocks <= 3600) return "1F"; // level 3.1: up to 1280x720 (never 3.0: too small)
    if (macroblocks <= 8192) return "28"; // level 4.0: up to 1920x1080
    return "32"; // level 5.0
  }

  /** The candidate types for a mode, with the H.264 level fitted to the camera's size. */
  function recorderCandidates(mode, stream) {
    if (mode !== "video") return AUDIO_TYPES.slice();
    var settings = {};
    var track = stream && stream.getVideoTracks ? stream.getVideoTracks()[0] : null;
    try {
      settings = (track && track.getSettings && track.getSettings()) || {};
    } catch (error) {
      settings = {};
    }
    var level = h264Level(settings.width, settings.height);
    return VIDEO_TYPES.map(function (type) {
      return type.replace("{level}", level);
    });
  }

  /** The types that recorded nothing here before, by mode ({video: [...], audio: [...]}). */
  function failedTypes() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(RECORDER_FAILED_KEY) || "{}");
      return stored && typeof stored === "object" ? stored : {};
    } catch (error) {
      return {};
    }
  }

  function saveFailedTypes(failed) {
    try {
      window.localStorage.setItem(RECORDER_FAILED_KEY, JSON.stringify(failed));
    } catch (error) {
      /* private mode: remembered for this take only */
    }
  }

  /**
   * What to record with: {mimeType, fallback, last}. ``fallback`` is the step (0 = the first
   * type this browser supports, 1 = the next one after it recorded nothing, ...); "" as the
   * type lets the browser pick (its own default is the last resort).
   */
  function recorderChoice(mode, stream) {
    if (!window.MediaRecorder || typeof MediaRecorder.isTypeSupported !== "function") {
      return { mimeType: "", fallback: 0, last: true };
    }
    var supported = recorderCandidates(mode, stream).filter(function (type) {
      try {
        return MediaRecorder.isTypeSupported(type);
      } catch (error) {
        return false;
      }
    });
    supported.push(""); // the browser's default
    var failed = failedTypes()[mode] || [];
    for (var i = 0; i < supported.length; i++) {
      if (failed.indexOf(supported[i]) === -1) {
        return { mimeType: supported[i], fallback: i, last: i === supported.length - 1 };
      }
    }
    // Everything failed once: start again from the top (it may have been the camera).
    var reset = failedTypes();
    delete reset[mode];
    saveFailedTypes(reset);
    return { mimeType: supported[0], fallback: 0, last: supported.length === 1 };
  }

  function readBytes(blob, start, end) {
    var part = blob.slice(start, end);
    if (part.arrayBuffer) return part.arrayBuffer();
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () {
        resolve(reader.result);
      };
      reader.onerror = function () {
        reject(reader.error);
      };
      reader.readAsArrayBuffer(part);
    });
  }

  /**
   * Resolves true if ``blob`` holds recorded media, not just a container's header. WebKit asked
   * for an H.264 level too small for the picture writes a 1 KB MP4 with a header and no samples.
   * MP4: some top-level "mdat" box has a payload. WebM: a Cluster exists. Anything else (or a
   * file this cannot read): not empty.
   */
  function hasMedia(blob) {
    if (!blob || !blob.size) return Promise.resolve(false);
    return readBytes(blob, 0, Math.min(blob.size, 65536))
      .then(function (buffer) {
        var head = new Uint8Array(buffer);
        var tag = String.fromCharCode(head[4], head[5], head[6], head[7]);
        if (tag === "ftyp") return mp4HasSamples(blob, 0);
        if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
          if (blob.size > head.length) return true; // a header is never this long
          for (var i = 0; i + 3 < head.length; i++) {
            if (head[i] === 0x1f && head[i + 1] === 0x43 && head[i + 2] === 0xb6 && head[i + 3] === 0x75) {
              return true;
            }
          }
          return false;
        }
        return true;
      })
      .catch(function () {
        return true; // cannot tell: keep the take (the server checks it properly)
      });
  }

  /** Walk an MP4's top-level boxes from ``offset``: true at the first "mdat" with a payload. */
  function mp4HasSamples(blob, offset) {
    if (offset + 8 > blob.size) return Promise.resolve(false);
    return readBytes(blob, offset, Math.min(blob.size, offset + 16)).then(function (buffer) {
      var view = new DataView(buffer);
      var size = view.getUint32(0);
      var tag = String.fromCharCode(view.getUint8(4), view.getUint8(5), view.getUint8(6), view.getUint8(7));
      var header = 8;
      if (size === 1 && buffer.byteLength >= 16) {
        size = view.getUint32(8) * 4294967296 + view.getUint32(12);
        header = 16;
      } else if (size === 0) {
        size = blob.size - offset; // to the end of the file
      }
      if (tag === "mdat") return size > header || (size === 0 && blob.size > offset + header);
      if (size < 8) return false; // not a box: a broken file
      return mp4HasSamples(blob, offset + size);
    });
  }

  /** Remember that ``mimeType`` recorded nothing in ``mode``: the next take uses another. */
  function recorderFailed(mode, mimeType) {
    var failed = failedTypes();
    var list = failed[mode] || [];
    if (list.indexOf(mimeType) === -1) list.push(mimeType);
    failed[mode] = list;
    saveFailedTypes(failed);
  }

  function filenameFor(type, mode) {
    var base = String(type || "").split(";")[0].trim().toLowerCase();
    if (base.indexOf("mp4") !== -1) return mode === "audio" ? "recording.m4a" : "recording.mp4";
    if (base.indexOf("ogg") !== -1) return "recording.ogg";
    return "recording.webm";
  }

  function formatClock(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var minutes = Math.floor(total / 60);
    var seconds = total % 60;
    return (minutes < 10 ? "0" : "") + minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
  }

  function updateTimer(elapsedMs) {
    el.recTimer.textContent = formatClock(elapsedMs) + " / " + formatClock(maxSeconds * 1000);
  }

  function setRecordControls(phase) {
    // phase: "waiting" | "ready" | "countdown" | "recording" | "error"
    el.recordStart.hidden = phase === "countdown" || phase === "recording" || phase === "error";
    el.recordStart.disabled = phase !== "ready";
    el.recordStop.hidden = phase !== "recording";
    el.recordBack.hidden = phase === "countdown" || phase === "recording";
    el.recIndicator.hidden = phase !== "recording";
    el.countdown.hidden = phase !== "countdown";
    el.stageWait.hidden = phase !== "waiting";
    el.deviceError.hidden = phase !== "error";
    screens.record.classList.toggle("is-recording", phase === "recording");
    screens.record.classList.toggle("has-device-error", phase === "error");
  }

  function showDeviceError(message, offerAudio) {
    el.deviceErrorMessage.textContent = message;
    el.fallbackAudio.hidden = !offerAudio;
    setRecordControls("error");
  }

  function startPreview() {
    releaseMedia();
    var mode = session.mode;
    var requestId = ++media.requestId;
    el.preview.hidden = mode !== "video";
    el.audioVisual.hidden = mode !== "audio";
    el.stageWait.textContent =
      mode === "video" ? el.stageWait.getAttribute("data-camera") || el.stageWait.textContent
                       : strings.starting_microphone;
    updateTimer(0);
    setRecordControls("waiting");

    var deniedMessage = mode === "video" ? strings.camera_denied : strings.mic_denied;
    if (!window.MediaRecorder) {
      showDeviceError(strings.no_recorder, false);
      return;
    }
    if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
      // Insecure context (plain http on a LAN address) or a very old browser.
      showDeviceError(deniedMessage, mode === "video");
      return;
    }
    var constraints = {
      audio: { echoCancellation: true, noiseSuppression: true },
      video:
        mode === "video"
          ? {
              width: { ideal: 1280 },
              height: { ideal: 720 },
              facingMode: roving ? "environment" : "user",
            }
          : false,
    };
    navigator.mediaDevices.getUserMedia(constraints).then(
      function (stream) {
        if (requestId !== media.requestId || currentScreen !== "record") {
          stopTracks(stream); // the delegate left before the camera answered
          return;
        }
        media.stream = stream;
        if (mode === "video") {
          el.preview.srcObject = stream;
          var playing = el.preview.play();
          if (playing && playing.catch) playing.catch(function () {});
        }
        startMeter(stream);
        setRecordControls("ready");
        el.recordStart.focus({ preventScroll: true });
      },
      function (error) {
        if (requestId !== media.requestId) return;
        if (window.console) console.warn("getUserMedia failed", error && error.name, error);
        showDeviceError(deniedMessage, mode === "video");
      }
    );
  }

  function startMeter(stream) {
    var context = ensureAudioContext();
    if (!context || !stream.getAudioTracks().length) return;
    try {
      media.source = context.createMediaStreamSource(stream);
      // Analyser only, never to the speakers: that would feed back.
      media.source.connect(audio.analyser);
    } catch (error) {
      media.source = null;
      return;
    }
    var tick = function () {
      audio.analyser.getByteTimeDomainData(audio.buffer);
      var sum = 0;
      for (var i = 0; i < audio.buffer.length; i++) {
        var v = (audio.buffer[i] - 128) / 128;
        sum += v * v;
      }
      var rms = Math.sqrt(sum / audio.buffer.length);
      // A decibel scale, as on a mixing desk: -60 dBFS (a quiet room) is empty, 0 dBFS full,
      // so ordinary speech (-35 to -10 dBFS) fills about half to most of the bar.
      var decibels = 20 * Math.log10(Math.max(rms, 1e-6));
      var level = Math.max(0, Math.min(1, (decibels + 60) / 60));
      el.levelMeter.style.width = (level * 100).toFixed(1) + "%";
      media.meterFrame = window.requestAnimationFrame(tick);
    };
    media.meterFrame = window.requestAnimationFrame(tick);
  }

  function stopTracks(stream) {
    if (!stream) return;
    stream.getTracks().forEach(function (track) {
      track.stop();
    });
  }

  function clearMediaTimers() {
    media.timers.forEach(function (id) {
      clearTimeout(id);
      clearInterval(id);
    });
    media.timers = [];
  }

  /** Stop the camera and microphone and everything that watches them. */
  function releaseMedia() {
    media.requestId++;
    clearMediaTimers();
    if (media.recorder && media.recorder.state !== "inactive") stopRecorder(true);
    if (media.meterFrame) window.cancelAnimationFrame(media.meterFrame);
    media.meterFrame = 0;
    if (media.source) {
      try {
        media.source.disconnect();
      } catch (error) {
        /* already disconnected */
      }
      media.source = null;
    }
    stopTracks(media.stream);
    media.stream = null;
    el.preview.srcObject = null;
    el.levelMeter.style.width = "0%";
    media.recording = false;
    screens.record.classList.remove("is-recording");
  }

  function beginCountdown() {
    if (!media.stream || media.recording) return;
    media.recording = true; // the countdown already holds off the idle reset
    setRecordControls("countdown");
    var remaining = COUNTDOWN_FROM;
    el.countdown.textContent = String(remaining);
    var interval = setInterval(function () {
      remaining -= 1;
      if (remaining > 0) {
        el.countdown.textContent = String(remaining);
        return;
      }
      clearInterval(interval);
      startRecorder();
    }, 1000);
    media.timers.push(interval);
  }

  function startRecorder() {
    var mode = session.mode;
    var choice = recorderChoice(mode, media.stream);
    var mimeType = choice.mimeType;
    var options = { audioBitsPerSecond: 128000 };
    if (mode === "video") options.videoBitsPerSecond = 2500000;
    if (mimeType) options.mimeType = mimeType;
    var recorder;
    try {
      recorder = new MediaRecorder(media.stream, options);
    } catch (error) {
      if (!choice.last) {
        recorderFailed(mode, mimeType); // refused at once: try the next type straight away
        startRecorder();
        return;
      }
      media.recording = false;
      showDeviceError(strings.no_recorder, false);
      return;
    }
    var chunks = [];
    var discard = false;
    var type = recorder.mimeType || mimeType || (mode === "video" ? "video/webm" : "audio/webm");
    // Each time slice goes to IndexedDB as it arrives: a closed or crashed tab loses at most
    // the last second, and the next load sends the rest (outbox.js, recovered=1).
    var takeId = newClientId();
    var fields = reflectionFields(takeId, mode, type, choice.fallback);
    var takeSaving = outbox
      ? outbox.beginTake(takeId, fields).catch(function (error) {
          if (window.console) console.warn("outbox: could not keep the take", error);
        })
      : Promise.resolve();
    recorder.ondataavailable = function (event) {
      if (!event.data || event.data.size <= 0 || discard) return;
      chunks.push(event.data);
      var seq = chunks.length - 1;
      var at = Math.round(performance.now() - media.startedAt);
      var data = event.data;
      takeSaving = takeSaving.then(function () {
        return outbox.addChunk(takeId, seq, data, at).catch(function () {});
      });
    };
    recorder.onstop = function () {
      media.recording = false;
      var durationMs = Math.round(performance.now() - media.startedAt);
      var blob = discard || !chunks.length ? null : new Blob(chunks, { type: type });
      chunks = [];
      if (media.recorder === recorder) media.recorder = null;
      var dropTake = function () {
        takeSaving.then(function () {
          if (outbox) outbox.dropTake(takeId);
        });
      };
      // A take cut off by leaving the page is kept: the next load sends it (recovered=1).
      if (discard) {
        if (!leavingPage) dropTake();
        return;
      }
      var requestId = media.requestId;
      // Did anything arrive (bytes, and samples behind the header)? If not, the next type.
      hasMedia(blob).then(function (recorded) {
        if (leavingPage) return;
        if (!recorded || durationMs <= 0) {
          dropTake();
          if (requestId === media.requestId) tookNothing(mode, mimeType, choice);
          return;
        }
        if (requestId !== media.requestId) {
          dropTake(); // the delegate left the record screen meanwhile
          return;
        }
        finishRecording(blob, durationMs, takeId, type, choice.fallback);
      });
    };
    recorder.onerror = function (event) {
      if (window.console) console.warn("MediaRecorder error", event && event.error);
    };
    recorder._voxpopDiscard = function () {
      discard = true;
    };
    media.recorder = recorder;
    media.startedAt = performance.now();
    try {
      recorder.start(1000);
    } catch (error) {
      // Safari throws here for a type it listed but cannot record with this camera.
      if (window.console) console.warn("MediaRecorder.start failed", mimeType, error);
      media.recorder = null;
      takeSaving.then(function () {
        if (outbox) outbox.dropTake(takeId);
      });
      if (!choice.last) {
        recorderFailed(mode, mimeType);
        startRecorder();
        return;
      }
      media.recording = false;
      showDeviceError(strings.no_recorder, false);
      return;
    }
    updateTimer(0);
    setRecordControls("recording");
    el.recordStop.focus({ preventScroll: true });

    var ticker = setInterval(function () {
      var elapsed = performance.now() - media.startedAt;
      updateTimer(Math.min(elapsed, maxSeconds * 1000));
      if (elapsed >= maxSeconds * 1000) stopRecorder(false);
    }, 200);
    media.timers.push(ticker);
    media.timers.push(setTimeout(function () {
      stopRecorder(false);
    }, maxSeconds * 1000));
  }

  /**
   * The recorder gave no data (WebKit records 0 bytes for a type it cannot really make):
   * remember that type, and ask for another take, which uses the next one. Said in plain
   * words; the camera stays on, so "Record" works at once.
   */
  function tookNothing(mode, mimeType, choice) {
    if (window.console) console.warn("recorder: nothing recorded with", mimeType || "(default)");
    var another = !choice.last; // when all have failed, the next take starts again at the top
    recorderFailed(mode, mimeType);
    updateTimer(0);
    setRecordControls(media.stream ? "ready" : "error");
    el.deviceErrorMessage.textContent = another ? strings.try_another_way : strings.nothing_recorded;
    el.fallbackAudio.hidden = true;
    el.deviceError.hidden = false;
  }

  /** Stop the recorder; with discard the recording is thrown away instead of reviewed. */
  function stopRecorder(discard) {
    var recorder = media.recorder;
    clearMediaTimers();
    if (!recorder) {
      media.recording = false;
      return;
    }
    if (discard) {
      recorder._voxpopDiscard();
      media.recorder = null;
      media.recording = false;
    }
    if (recorder.state !== "inactive") {
      try {
        recorder.stop();
      } catch (error) {
        /* already stopping */
      }
    }
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
      fields.filename = filenameFor(mimeType, kind);
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
      if (thanks.clientId === clientId) el.thanksSaved.textContent = strings.saved_on_kiosk;
    }, CONFIRM_WAIT_MS);
    show("thanks");
  }

  /* ---------------------------------------------------------------- outbox status */

  var storageLow = false;

  function renderOutboxStatus(summary) {
    var waiting = summary.waiting || 0;
    var refused = summary.refused || 0;
    el.outboxWaiting.textContent = waiting ? plural("waiting", waiting) : "";
    el.outboxWaiting.hidden = !waiting;
    el.outboxRefused.textContent = refused ? plural("refused", refused) : "";
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
    if (submitting || media.recording || leavingPage) return false;
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
    outbox.on("change", function (summary) {
      renderOutboxStatus(summary);
      checkStorage();
    });
    outbox.on("paired", refreshOutboxStatus);
    outbox.on("delivered", function (detail) {
      if (thanks.clientId !== detail.client_id) return;
      clearTimeout(thanks.timer);
      el.thanksSaved.textContent = "";
      // The server's code is the truth (a random offline code may have been taken).
      if (detail.receipt_code && detail.receipt_code !== el.receiptCode.textContent) {
        el.receiptCode.textContent = detail.receipt_code;
        showQr(detail.receipt_code);
      }
    });
    var api = config.api || {};
    outbox.start({
      api: {
        uploads: api.uploads,
        session: api.session,
        heartbeat: api.heartbeat,
        reflections: api.reflections,
      },
      csrfToken: config.csrf_token || "",
      appVersion: config.app_version || "",
      lang: config.lang || "",
      configVersion: config.config_version || "",
      onConfigChanged: configChanged,
    });
    askPersistentStorage();
    checkStorage();
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
    "record-start": beginCountdown,
    "record-stop": function () {
      stopRecorder(false);
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
      ensureAudioContext();
      show("record");
      startPreview();
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
    stopRecorder(true);
    releaseMedia();
  });

  /* ---------------------------------------------------------------- start */

  $all("[data-string]").forEach(function (node) {
    var text = strings[node.getAttribute("data-string")];
    if (text) node.textContent = text;
  });
  el.stageWait.setAttribute("data-camera", el.stageWait.textContent);
  selectPrompt(firstPromptId);
  updateConsent();
  updateTextCounter();
  updateTimer(0);
  if (homeScreen() === "interviewer") askInterviewer(null);
  else show(homeScreen());
  startOutbox();
  registerServiceWorker();

  window.voxpopKiosk = {
    state: function () {
      return currentScreen;
    },
    /** For tests and organisers: {waiting, refused, entries: [{client_id, state, ...}]}. */
    outbox: function () {
      return outbox ? outbox.summary() : Promise.resolve({ waiting: 0, refused: 0, entries: [] });
    },
    flushNow: function () {
      return outbox ? outbox.flushNow() : Promise.resolve();
    },
    /** Roving: the interviewer's name kept on this phone ("" when not set or not roving). */
    interviewer: function () {
      return roving ? interviewer.name : "";
    },
  };
})();
