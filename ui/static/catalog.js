// The chooser of actions and triggers: filters the choices as you type (the search form works without it),
// hides the tool types left empty and says politely how many choices match.
(function () {
  "use strict";
  var form = document.querySelector("[data-choose-search]");
  var status = document.getElementById("choose-count");
  if (!form || !status) { return; }
  var input = form.querySelector("input[type=search]");
  var items = Array.prototype.slice.call(document.querySelectorAll(".choice[data-search]"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("[data-choice-group]"));
  var none = document.querySelector(".choose-none");
  var timer = null;

  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function filter() {
    var words = fold(input.value).split(/\s+/).filter(Boolean);
    var found = 0;
    items.forEach(function (item) {
      var text = item.getAttribute("data-search");
      var shown = words.every(function (word) { return text.indexOf(word) !== -1; });
      item.hidden = !shown;
      if (shown) { found += 1; }
    });
    groups.forEach(function (group) {
      group.hidden = !group.querySelector(".choice:not([hidden])");
    });
    if (none) { none.hidden = found > 0; }
    var message = "";
    if (words.length) {
      var form_ = found === 0 ? "data-none" : found === 1 ? "data-one" : "data-other";
      message = status.getAttribute(form_).replace("{n}", String(found));
    }
    status.textContent = message;
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(filter, 300);  // one announcement once typing pauses, not one per key
  });
})();
