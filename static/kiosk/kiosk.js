/*
 * voxpop kiosk: one page, one state machine, one <section data-screen> per screen.
 *
 * Vanilla JS with no libraries and nothing fetched from elsewhere: the venue is offline.
 * Targets iPad Safari 15+ and Chromium, so no syntax newer than ES2020.
 *
 * Privacy: the kiosk only ever holds the current delegate's reflection. Going back to the
 * attract screen (Done, Back from the first step, or the idle timeout) drops everything.
 */
(function () {
  "use strict";

  var DEFAULT_STRINGS = {
    retrying: "Connection problem — trying again in {seconds} s (attempt {attempt} of {max})",
    upload_failed: "We couldn't send your reflection. It is still here — tap Try again.",
    camera_denied:
      "We can't use the camera. You can record audio only or write your thoughts instead.",
    mic_denied: "We can't use the microphone. You can write your thoughts instead.",
    not_paired: "This kiosk is no longer paired. Please ask an organiser.",
    too_long: "{count} of {max} characters",
    uploading: "Sending… {percent}%",
    recording: "Recording",
    submit_error: "Something went wrong: {error}",
    // Not in config.strings; the template carries their translations (#kiosk-messages).
    nothing_recorded: "Nothing was recorded. Please try again.",
    no_recorder: "This device can't record here. You can write your thoughts instead.",
    starting_microphone: "Starting the microphone…",
    unknown_error: "Unexpected answer from the server",
  };

  var VIDEO_TYPES = [
    'video/mp4;codecs="avc1.42E01E,mp4a.40.2"',
    'video/webm;codecs="vp8,opus"',
    'video/webm;codecs="vp9,opus"',
    "video/webm",
    "video/mp4",
  ];
  var AUDIO_TYPES = [
    'audio/mp4;codecs="mp4a.40.2"',
    "audio/webm;codecs=opus",
    "audio/webm",
    "audio/ogg;codecs=opus",
    "audio/mp4",
  ];

  var UPLOAD_MAX_ATTEMPTS = 5;
  var UPLOAD_BACKOFF_SECONDS = [2, 4, 8, 16];
  var UPLOAD_TIMEOUT_MS = 120000;
  var COUNTDOWN_FROM = 3;

  // Which screen a rejected field sends the delegate back to.
  var FIELD_SCREENS = {
    perspective: "perspective",
    prompt: "prompt",
    consent: "consent",
    consent_version: "consent",
    first_name: "consent",
    kind: "mode",
    text: "text",
    media: "record",
    duration_ms: "record",
  };

  /* ---------------------------------------------------------------- config */

  var config = JSON.parse(document.getElementById("kiosk-config").textContent);
  var eventConfig = config.event || {};
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

  /** Fill "{name}" placeholders in a translated string. */
  function format(key, values) {
    return String(strings[key] || key).replace(/\{(\w+)\}/g, function (whole, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name)
        ? String(values[name])
        : whole;
    });
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
    progress: $("#upload-progress"),
    uploadStatus: $("#upload-status"),
    uploadRetry: $("#upload-retry"),
    uploadBack: $("#upload-back"),
    uploadDiscard: $("#upload-discard"),
    receiptCode: $("#receipt-code"),
    receiptQr: $("#receipt-qr"),
  };
  el.text.maxLength = textMaxChars;
  el.preview.muted = true; // iOS only autoplays a muted inline video, and it must not echo

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
  var upload = { xhr: null, inFlight: false, timers: [] };
  var idleTimer = 0;

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
      returnScreen: null, // where "Go back" leads after a rejected upload
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
    el.topbar.hidden = name === "attract";
    window.scrollTo(0, 0);
    var heading = $("[tabindex='-1']", screens[name]);
    if (heading && leaving !== name) heading.focus({ preventScroll: true });
    resetIdleTimer();
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
    cancelUpload();
    discardRecording();
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
    el.progress.value = 0;
    el.uploadStatus.textContent = "";
    session = newSession();
    selectPrompt(firstPromptId);
    setAccent(null);
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    show("attract");
  }

  /* ---------------------------------------------------------------- idle */

  function resetIdleTimer() {
    clearTimeout(idleTimer);
    if (currentScreen === "attract") return;
    idleTimer = setTimeout(onIdle, idleSeconds * 1000);
  }

  function onIdle() {
    // Never cut off someone mid-sentence or throw away a reflection that is being sent.
    if (media.recording || upload.inFlight) {
      resetIdleTimer();
      return;
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

  function pickMimeType(candidates) {
    if (!window.MediaRecorder || typeof MediaRecorder.isTypeSupported !== "function") return "";
    for (var i = 0; i < candidates.length; i++) {
      if (MediaRecorder.isTypeSupported(candidates[i])) return candidates[i];
    }
    return "";
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
          ? { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: "user" }
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
    var mimeType = pickMimeType(mode === "video" ? VIDEO_TYPES : AUDIO_TYPES);
    var options = { audioBitsPerSecond: 128000 };
    if (mode === "video") options.videoBitsPerSecond = 2500000;
    if (mimeType) options.mimeType = mimeType;
    var recorder;
    try {
      recorder = new MediaRecorder(media.stream, options);
    } catch (error) {
      try {
        recorder = new MediaRecorder(media.stream); // let the browser pick
      } catch (error2) {
        media.recording = false;
        showDeviceError(strings.no_recorder, false);
        return;
      }
    }
    var chunks = [];
    var discard = false;
    recorder.ondataavailable = function (event) {
      if (event.data && event.data.size > 0) chunks.push(event.data);
    };
    recorder.onstop = function () {
      media.recording = false;
      var durationMs = Math.round(performance.now() - media.startedAt);
      var type = recorder.mimeType || mimeType || (mode === "video" ? "video/webm" : "audio/webm");
      var blob = discard || !chunks.length ? null : new Blob(chunks, { type: type });
      chunks = [];
      if (media.recorder === recorder) media.recorder = null;
      if (discard) return;
      if (!blob || !blob.size) {
        // Offer another go with the same camera, or writing instead.
        updateTimer(0);
        setRecordControls(media.stream ? "ready" : "error");
        el.deviceErrorMessage.textContent = strings.nothing_recorded;
        el.fallbackAudio.hidden = true;
        el.deviceError.hidden = false;
        return;
      }
      finishRecording(blob, durationMs);
    };
    recorder.onerror = function (event) {
      if (window.console) console.warn("MediaRecorder error", event && event.error);
    };
    recorder._voxpopDiscard = function () {
      discard = true;
    };
    media.recorder = recorder;
    media.startedAt = performance.now();
    recorder.start(1000);
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

  function finishRecording(blob, durationMs) {
    discardRecording();
    session.blob = blob;
    session.durationMs = durationMs;
    session.blobUrl = URL.createObjectURL(blob);
    session.clientId = null;
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
    session.blob = null;
    session.blobUrl = null;
    session.durationMs = 0;
  }

  /* ---------------------------------------------------------------- upload */

  function buildForm() {
    var form = new FormData();
    form.append("perspective", session.perspective);
    form.append("prompt", String(session.promptId));
    form.append("kind", session.mode);
    session.consents.forEach(function (slug) {
      form.append("consent", slug);
    });
    form.append("consent_version", (config.consent && config.consent.version) || "");
    if (session.consents.indexOf("name") !== -1) form.append("first_name", session.firstName);
    if (session.mode === "text") {
      form.append("text", el.text.value.trim());
    } else {
      form.append("media", session.blob, filenameFor(session.blob.type, session.mode));
      form.append("duration_ms", String(session.durationMs));
    }
    form.append("client_id", session.clientId);
    form.append("lang", config.lang || document.documentElement.lang || "");
    return form;
  }

  function setUploadButtons(which) {
    el.uploadRetry.hidden = which.indexOf("retry") === -1;
    el.uploadBack.hidden = which.indexOf("back") === -1;
    el.uploadDiscard.hidden = which.indexOf("discard") === -1;
  }

  function clearUploadTimers() {
    upload.timers.forEach(function (id) {
      clearTimeout(id);
      clearInterval(id);
    });
    upload.timers = [];
  }

  function cancelUpload() {
    clearUploadTimers();
    if (upload.xhr) {
      upload.xhr.onload = upload.xhr.onerror = upload.xhr.ontimeout = upload.xhr.onabort = null;
      try {
        upload.xhr.abort();
      } catch (error) {
        /* nothing to abort */
      }
    }
    upload.xhr = null;
    upload.inFlight = false;
  }

  function submit() {
    if (upload.inFlight) return;
    if (session.mode === "text" && el.text.value.trim() === "") return;
    if (session.mode !== "text" && !session.blob) return;
    // One id per reflection, kept across retries so the server can spot duplicates.
    if (!session.clientId) session.clientId = newClientId();
    session.returnScreen = session.mode === "text" ? "text" : "review";
    show("upload");
    runUpload();
  }

  function runUpload() {
    cancelUpload();
    upload.inFlight = true;
    setUploadButtons([]);
    attemptUpload(1);
  }

  function setProgress(percent) {
    el.progress.value = percent;
    el.uploadStatus.textContent = format("uploading", { percent: percent });
  }

  function attemptUpload(attempt) {
    var xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    setProgress(0);
    xhr.open("POST", config.api.reflections, true);
    xhr.timeout = UPLOAD_TIMEOUT_MS;
    xhr.setRequestHeader("X-CSRFToken", config.csrf_token || "");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable && event.total > 0) {
        setProgress(Math.min(100, Math.floor((event.loaded / event.total) * 100)));
      }
    };
    xhr.onload = function () {
      upload.xhr = null;
      handleResponse(xhr, attempt);
    };
    xhr.onerror = xhr.ontimeout = function () {
      upload.xhr = null;
      retryLater(attempt);
    };
    xhr.send(buildForm());
  }

  function parseJson(xhr) {
    try {
      return JSON.parse(xhr.responseText);
    } catch (error) {
      return null;
    }
  }

  function sameEndpoint(xhr) {
    // A redirect (for example to a sign-in page) means the kiosk lost its pairing.
    if (!xhr.responseURL) return true;
    var a = document.createElement("a");
    a.href = config.api.reflections;
    return xhr.responseURL.split("?")[0] === a.href.split("?")[0];
  }

  function handleResponse(xhr, attempt) {
    var status = xhr.status;
    var body = parseJson(xhr);
    if (status >= 200 && status < 300) {
      if (body && body.receipt_code) {
        upload.inFlight = false;
        showThanks(body.receipt_code);
      } else if (!sameEndpoint(xhr)) {
        failUpload(strings.not_paired, ["discard"]);
      } else {
        failUpload(format("submit_error", { error: strings.unknown_error }), ["retry", "discard"]);
      }
      return;
    }
    if (status === 401 || status === 403) {
      failUpload(strings.not_paired, ["discard"]);
      return;
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      var message = body && body.error ? body.error : format("submit_error", { error: status });
      var field = body && (body.field || body.step);
      var target = FIELD_SCREENS[field] || session.returnScreen;
      if (status === 413 && session.mode !== "text") target = "record";
      session.returnScreen = target;
      failUpload(message, ["back", "discard"]);
      return;
    }
    retryLater(attempt); // 5xx, 408 and 429: worth another go
  }

  function retryLater(attempt) {
    if (attempt >= UPLOAD_MAX_ATTEMPTS) {
      failUpload(strings.upload_failed, ["retry", "discard"]);
      return;
    }
    var seconds = UPLOAD_BACKOFF_SECONDS[Math.min(attempt - 1, UPLOAD_BACKOFF_SECONDS.length - 1)];
    el.progress.value = 0; // the next attempt sends everything again
    var showWait = function () {
      el.uploadStatus.textContent = format("retrying", {
        seconds: seconds,
        attempt: attempt + 1,
        max: UPLOAD_MAX_ATTEMPTS,
      });
    };
    showWait();
    var ticker = setInterval(function () {
      seconds = Math.max(0, seconds - 1);
      showWait();
    }, 1000);
    upload.timers.push(ticker);
    upload.timers.push(setTimeout(function () {
      clearUploadTimers();
      attemptUpload(attempt + 1);
    }, seconds * 1000));
  }

  function failUpload(message, buttons) {
    clearUploadTimers();
    upload.inFlight = false;
    upload.xhr = null;
    el.uploadStatus.textContent = message;
    setUploadButtons(buttons);
    var focus = buttons.indexOf("retry") !== -1 ? el.uploadRetry : el.uploadBack;
    if (!focus.hidden) focus.focus({ preventScroll: true });
    resetIdleTimer();
  }

  function showThanks(code) {
    // The reflection is safely with the server: nothing of it stays in the page.
    discardRecording();
    el.text.value = "";
    session.clientId = null;
    el.receiptCode.textContent = code;
    el.receiptQr.src = config.api.receipt_qr.replace("CODE", encodeURIComponent(code));
    el.receiptQr.hidden = false;
    show("thanks");
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
    "upload-retry": runUpload,
    "upload-back": function () {
      var target = session.returnScreen || "mode";
      if (target === "record") {
        actions.retake();
        return;
      }
      if (target === "mode" || target === "text") session.clientId = null;
      show(target);
      if (target === "consent") updateConsent();
      if (target === "text") updateTextCounter();
    },
    discard: resetKiosk,
    done: resetKiosk,
  };

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
  window.addEventListener("pagehide", function () {
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
  show("attract");

  window.voxpopKiosk = {
    state: function () {
      return currentScreen;
    },
  };
})();
