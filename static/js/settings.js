// Organiser settings: after an Up/Down move (a full page
// reload) put the keyboard focus back on the button that was pressed. Everything works
// without this script; it only smooths the way. No library, no CDN.
(function () {
  "use strict";
  var KEY = "voxpop.settings.focus";

  // (data-confirm questions are asked by page.js, on every staff page.)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    if (form.hasAttribute("data-focus-restore") && button && button.dataset.focusKey) {
      try { sessionStorage.setItem(KEY, button.dataset.focusKey); } catch (e) { /* private mode */ }
    }
  });

  var saved = null;
  try {
    saved = sessionStorage.getItem(KEY);
    sessionStorage.removeItem(KEY);
  } catch (e) { /* private mode */ }
  if (saved) {
    // After "load": the browser's jump to the #fragment in the URL would otherwise take the
    // focus back to the page.
    window.addEventListener("load", function () {
      setTimeout(function () {
        var target = document.querySelector('[data-focus-key="' + saved.replace(/"/g, "") + '"]');
        if (target && target.disabled) {
          // At the top or bottom now: focus its partner so the keyboard user keeps their place.
          target = target.parentNode.querySelector("button:not([disabled])");
        }
        if (target) { target.focus(); }
      }, 0);
    });
  }
})();
