/*
 * voxpop kiosk recorder: the record screen's camera and microphone (getUserMedia), the live
 * preview and level meter, the countdown, and MediaRecorder with its fallback from one
 * recording type to the next when a type records nothing (issue 14).
 *
 * Exposes window.voxpopRecorder.create(options); screens.js makes one. Each time slice goes
 * to the outbox (outbox.js) as it arrives, so a take cut off by a closed tab is recovered.
 * Every word it shows comes from the kiosk's server-rendered strings (text.get). A plain
 * script, no build step, no syntax newer than ES2017: iPad Safari 15+ and Chromium.
 */
(function () {
  "use strict";

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

  /**
   * Bytes ``start`` to ``end`` of ``blob``. Blob.arrayBuffer is in every browser the kiosk
   * targets (Safari 14+); without it this rejects, and hasMedia keeps the take.
   */
  function readBytes(blob, start, end) {
    return Promise.resolve().then(function () {
      return blob.slice(start, end).arrayBuffer();
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

  /**
   * The recorder for the record screen. ``options``:
   * - text: the kiosk's strings (kiosk.js: get, format, plural);
   * - outbox: window.voxpopOutbox (or null);
   * - maxSeconds: the longest take; facingMode: "user" (kiosk) or "environment" (roving);
   * - onScreen(): true while the record screen is showing;
   * - leaving(): true once the page is being left (a take cut off then is kept);
   * - newId(): a new take id (the reflection's client_id if it is submitted);
   * - takeFields(takeId, mode, mimeType, fallback): the take's metadata, kept with its chunks;
   * - onTake(blob, durationMs, takeId, mimeType, fallback): a take that recorded something.
   */
  function create(options) {
    var text = options.text;
    var outbox = options.outbox;
    var section = document.querySelector('section[data-screen="record"]');
    var el = {
      preview: document.getElementById("preview"),
      audioVisual: document.getElementById("audio-visual"),
      stageWait: document.getElementById("stage-wait"),
      countdown: document.getElementById("countdown"),
      recIndicator: document.getElementById("rec-indicator"),
      levelMeter: document.getElementById("level-meter"),
      recTimer: document.getElementById("rec-timer"),
      deviceError: document.getElementById("device-error"),
      deviceErrorMessage: document.getElementById("device-error-message"),
      fallbackAudio: document.getElementById("fallback-audio"),
      recordStart: document.getElementById("record-start"),
      recordStop: document.getElementById("record-stop"),
      recordBack: document.getElementById("record-back"),
    };
    el.preview.muted = true; // iOS only autoplays a muted inline video, and it must not echo

    var media = {
      mode: null, // "video" or "audio"
      stream: null, // live MediaStream from getUserMedia
      recorder: null,
      recording: false, // true from the countdown until the recorder has stopped
      startedAt: 0,
      timers: [],
      meterFrame: 0,
      meterPercent: 0, // the level bar's width as last drawn, in percent
      source: null, // MediaStreamAudioSourceNode feeding the analyser
      requestId: 0, // guards against getUserMedia answering after the delegate moved on
    };
    var audio = { context: null, analyser: null, buffer: null };

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

    function updateTimer(elapsedMs) {
      el.recTimer.textContent = formatClock(elapsedMs) + " / " + formatClock(options.maxSeconds * 1000);
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
      section.classList.toggle("is-recording", phase === "recording");
      section.classList.toggle("has-device-error", phase === "error");
    }

    function showDeviceError(message, offerAudio) {
      el.deviceErrorMessage.textContent = message;
      el.fallbackAudio.hidden = !offerAudio;
      setRecordControls("error");
    }

    function startPreview(mode) {
      releaseMedia();
      media.mode = mode;
      var requestId = ++media.requestId;
      el.preview.hidden = mode !== "video";
      el.audioVisual.hidden = mode !== "audio";
      el.stageWait.textContent =
        mode === "video" ? text.get("starting_camera") : text.get("starting_microphone");
      updateTimer(0);
      setRecordControls("waiting");

      var deniedMessage = mode === "video" ? text.get("camera_denied") : text.get("mic_denied");
      if (!window.MediaRecorder) {
        showDeviceError(text.get("no_recorder"), false);
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
                facingMode: options.facingMode || "user",
              }
            : false,
      };
      navigator.mediaDevices.getUserMedia(constraints).then(
        function (stream) {
          if (requestId !== media.requestId || !options.onScreen()) {
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
        // Drawn only when the bar moves by two percent or more (a change a delegate can see):
        // a steady sound, or silence, costs the tablet no repaint sixty times a second while
        // the camera preview runs, and the bar does not shimmer between two widths.
        var percent = Math.round(level * 100);
        var moved = Math.abs(percent - media.meterPercent) >= 2;
        if (moved || (percent === 0) !== (media.meterPercent === 0)) {
          media.meterPercent = percent;
          el.levelMeter.style.width = percent + "%";
        }
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
      media.meterPercent = 0;
      media.recording = false;
      section.classList.remove("is-recording");
    }

    function beginCountdown() {
      if (!media.stream || media.recording) return;
      media.recording = true; // the countdown already holds off the idle reset
      setRecordControls("countdown");
      var remaining = options.countdownSeconds || 3;
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
      var mode = media.mode;
      var choice = recorderChoice(mode, media.stream);
      var mimeType = choice.mimeType;
      var settings = { audioBitsPerSecond: 128000 };
      if (mode === "video") settings.videoBitsPerSecond = 2500000;
      if (mimeType) settings.mimeType = mimeType;
      var recorder;
      try {
        recorder = new MediaRecorder(media.stream, settings);
      } catch (error) {
        if (!choice.last) {
          recorderFailed(mode, mimeType); // refused at once: try the next type straight away
          startRecorder();
          return;
        }
        media.recording = false;
        showDeviceError(text.get("no_recorder"), false);
        return;
      }
      var chunks = [];
      var discard = false;
      var type = recorder.mimeType || mimeType || (mode === "video" ? "video/webm" : "audio/webm");
      // Each time slice goes to IndexedDB as it arrives: a closed or crashed tab loses at most
      // the last second, and the next load sends the rest (outbox.js, recovered=1).
      var takeId = options.newId();
      var fields = options.takeFields(takeId, mode, type, choice.fallback);
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
          if (!options.leaving()) dropTake();
          return;
        }
        var requestId = media.requestId;
        // Did anything arrive (bytes, and samples behind the header)? If not, the next type.
        hasMedia(blob).then(function (recorded) {
          if (options.leaving()) return;
          if (!recorded || durationMs <= 0) {
            dropTake();
            if (requestId === media.requestId) tookNothing(mode, mimeType, choice);
            return;
          }
          if (requestId !== media.requestId) {
            dropTake(); // the delegate left the record screen meanwhile
            return;
          }
          options.onTake(blob, durationMs, takeId, type, choice.fallback);
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
        showDeviceError(text.get("no_recorder"), false);
        return;
      }
      updateTimer(0);
      setRecordControls("recording");
      el.recordStop.focus({ preventScroll: true });

      var ticker = setInterval(function () {
        var elapsed = performance.now() - media.startedAt;
        updateTimer(Math.min(elapsed, options.maxSeconds * 1000));
        if (elapsed >= options.maxSeconds * 1000) stopRecorder(false);
      }, 200);
      media.timers.push(ticker);
      media.timers.push(setTimeout(function () {
        stopRecorder(false);
      }, options.maxSeconds * 1000));
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
      el.deviceErrorMessage.textContent = another
        ? text.get("try_another_way")
        : text.get("nothing_recorded");
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

    updateTimer(0);

    return {
      /** Ask for the camera (video) or microphone (audio) and show the preview. */
      preview: startPreview,
      /** Count down, then record. */
      countdown: beginCountdown,
      /** Stop recording; with ``discard`` the take is thrown away instead of reviewed. */
      stop: stopRecorder,
      /** Let go of the camera and microphone. */
      release: releaseMedia,
      /** True from the countdown until the recorder has stopped. */
      recording: function () {
        return media.recording;
      },
      /** Safari lets an AudioContext run only if it is created or resumed inside a tap. */
      wakeAudio: ensureAudioContext,
    };
  }

  window.voxpopRecorder = { create: create, filenameFor: filenameFor };
})();
