/* Search in the static copy of the archive (issue 16): no server, so the page searches the
   index written beside it (search-index.js sets window.VOXPOP_SEARCH). Every word typed must
   start a word of the reflection (accents and case ignored), as the live archive's search does.
   Results are built with textContent only: nothing from the index is parsed as HTML. */
(function () {
  "use strict";
  var data = window.VOXPOP_SEARCH || { items: [] };
  var input = document.getElementById("archive-q");
  var list = document.getElementById("search-results");
  var summary = document.getElementById("search-summary");
  if (!input || !list) return;
  var lang = document.documentElement.lang || "en";
  var up = window.location.pathname.match(/\/[a-z]{2}\/search\.html$/) ? "../" : "";

  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function words(text) {
    return fold(text).match(/[\p{L}\p{N}_]+/gu) || [];
  }
  function matches(text, terms) {
    var own = words(text);
    return terms.every(function (term) {
      return own.some(function (word) { return word.indexOf(term) === 0; });
    });
  }
  function clock(seconds) {
    var whole = Math.floor(seconds);
    var s = whole % 60;
    return Math.floor(whole / 60) + ":" + (s < 10 ? "0" : "") + s;
  }
  // The text with each word that starts with a term in <mark> (DOM nodes, never HTML).
  function highlighted(text, terms) {
    var span = document.createElement("span");
    var re = /[\p{L}\p{N}_]+/gu;
    var last = 0;
    var found;
    while ((found = re.exec(text)) !== null) {
      var word = fold(found[0]);
      if (terms.some(function (term) { return word.indexOf(term) === 0; })) {
        span.appendChild(document.createTextNode(text.slice(last, found.index)));
        var mark = document.createElement("mark");
        mark.textContent = found[0];
        span.appendChild(mark);
        last = found.index + found[0].length;
      }
    }
    span.appendChild(document.createTextNode(text.slice(last)));
    return span;
  }

  function result(item, terms) {
    var li = document.createElement("li");
    li.className = "search-result";
    li.setAttribute("data-reflection", String(item.id));
    var heading = document.createElement("a");
    heading.href = item.page + "#reflection-" + item.id;
    heading.className = "search-result-link";
    heading.textContent = (item.labels[lang] || item.labels.en || item.perspective);
    li.appendChild(heading);
    var hits = document.createElement("ul");
    hits.className = "search-hits";
    var whole = item.text || item.cues.map(function (cue) { return cue[1]; }).join(" ");
    var shown = 0;
    if (item.text) {
      var p = document.createElement("li");
      p.setAttribute("lang", item.lang);
      p.appendChild(highlighted(item.text, terms));
      hits.appendChild(p);
      shown++;
    }
    item.cues.forEach(function (cue) {
      if (shown >= 3 || !terms.some(function (term) { return matches(cue[1], [term]); })) return;
      var li2 = document.createElement("li");
      var time = document.createElement("a");
      time.className = "hit-time";
      time.href = up + item.mp4 + "#t=" + cue[0].toFixed(1);
      time.textContent = clock(cue[0]);
      time.setAttribute("aria-label", list.dataset.playFrom.replace("{t}", clock(cue[0])));
      li2.appendChild(time);
      li2.appendChild(document.createTextNode(" "));
      var words2 = highlighted(cue[1], terms);
      words2.setAttribute("lang", item.lang);
      li2.appendChild(words2);
      hits.appendChild(li2);
      shown++;
    });
    if (!shown) {
      var all = document.createElement("li");
      all.appendChild(highlighted(whole, terms));
      hits.appendChild(all);
    }
    li.appendChild(hits);
    return li;
  }

  function run() {
    var terms = words(input.value).slice(0, 8);
    while (list.firstChild) list.removeChild(list.firstChild);
    if (!terms.length) {
      summary.textContent = "";
      return;
    }
    var found = data.items.filter(function (item) {
      var whole = (item.text || "") + " " + item.cues.map(function (cue) { return cue[1]; }).join(" ");
      return matches(whole, terms);
    });
    found.forEach(function (item) { list.appendChild(result(item, terms)); });
    summary.textContent = !found.length ? list.dataset.noResults
      : found.length === 1 ? list.dataset.oneResult
      : list.dataset.results.replace("{n}", String(found.length));
  }

  var timer = null;
  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(run, 150);
  });
  var asked = new URLSearchParams(window.location.search).get("q");
  if (asked) input.value = asked;
  run();
})();
