// Every staff page: what the templates used to do inline, which the Content-Security-Policy
// (script-src 'self', style-src 'self', no inline script or style) now forbids.
// - `data-colour="#c0392b"` sets the CSS variable --colour through the CSSOM, which a CSP
//   allows (style="" attributes it does not), also on fragments added later (the live
//   dashboard, review updates).
// - `<form data-confirm="question">` asks before submitting (destructive buttons).
(function () {
  "use strict";

  function paint(root) {
    if (root.nodeType !== 1) { return; }
    if (root.hasAttribute("data-colour")) {
      root.style.setProperty("--colour", root.getAttribute("data-colour"));
    }
    var found = root.querySelectorAll("[data-colour]");
    for (var i = 0; i < found.length; i += 1) {
      found[i].style.setProperty("--colour", found[i].getAttribute("data-colour"));
    }
  }

  paint(document.documentElement);
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      if (record.type === "attributes") {
        paint(record.target);
      } else {
        record.addedNodes.forEach(paint);
      }
    });
  }).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["data-colour"]
  });

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
