// Follows a contact import: asks for the lines done every second, updates the bar and the count, and shows the
// report when the import ends. Without this script the page has a link to look again.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var bar = document.getElementById("import-bar");
  var count = document.getElementById("import-count");
  var label = box.getAttribute("data-done-label");
  var format = new Intl.NumberFormat(document.documentElement.lang || undefined);
  function look() {
    fetch(box.getAttribute("data-status"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        if (state.finished) { window.location.reload(); return; }
        bar.max = state.total;
        bar.value = state.done;
        bar.textContent = format.format(state.done) + " / " + format.format(state.total);
        count.textContent = label.replace("%(done)s", format.format(state.done))
          .replace("%(total)s", format.format(state.total));
        window.setTimeout(look, 1000);
      })
      .catch(function () { window.setTimeout(look, 3000); });
  }
  window.setTimeout(look, 1000);
}());
