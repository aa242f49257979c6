// The data-insert panel (ui/templates/_insert_panel.html): each reference becomes a button that inserts its
// expression where the cursor is in the panel's text field, keeps the focus there and says "inserted" politely;
// the list of data a field uses ("Uses: Trigger › Title") follows what the field holds. Without this script the
// panel lists the expressions to copy.
(function () {
  "use strict";
  var EXPRESSION = /{{-?\s*([\s\S]+?)\s*-?}}/g;

  function squeeze(text) { return text.replace(/\s+/g, " ").trim(); }

  function labels(panel) {
    var found = {};
    panel.querySelectorAll("[data-insert]").forEach(function (button) {
      found[squeeze(button.getAttribute("data-insert").slice(3, -3))] = button.textContent;
    });
    return found;
  }

  function showUses(field, known) {
    var box = document.querySelector('[data-insert-uses="' + field.id + '"]');
    if (!box) { return; }
    var list = box.querySelector("ul");
    var seen = [];
    var match;
    EXPRESSION.lastIndex = 0;
    while ((match = EXPRESSION.exec(field.value)) !== null) {
      var path = squeeze(match[1]);
      if (seen.indexOf(path) === -1) { seen.push(path); }
    }
    list.textContent = "";
    seen.forEach(function (path) {
      var item = document.createElement("li");
      item.textContent = known[path] || path;
      list.appendChild(item);
    });
    box.hidden = seen.length === 0;
  }

  function insert(field, text) {
    var start = field.selectionStart;
    var end = field.selectionEnd;
    if (typeof start !== "number") { start = end = field.value.length; }
    field.focus();
    field.setRangeText(text, start, end, "end");
    // what typing would have told the page (unsaved-change warnings, the "uses" list)
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.querySelectorAll("[data-insert-panel]").forEach(function (panel) {
    var field = document.getElementById(panel.getAttribute("data-target"));
    if (!field || typeof field.setRangeText !== "function") { return; }  // not a text field: copying still works
    var status = panel.querySelector("[data-insert-status]");
    var known = labels(panel);
    panel.querySelectorAll("[data-insert-hint]").forEach(function (hint) { hint.hidden = !hint.hidden; });
    panel.querySelectorAll("[data-insert-label]").forEach(function (label) { label.hidden = true; });
    panel.querySelectorAll("[data-insert]").forEach(function (button) {
      button.hidden = false;
      button.setAttribute("aria-controls", field.id);
      // the field keeps its cursor: a button pressed with the mouse does not take the focus from it
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });
      button.addEventListener("click", function () {
        insert(field, button.getAttribute("data-insert"));
        if (status) {
          status.textContent = "";
          window.setTimeout(function () {
            status.textContent = status.getAttribute("data-inserted").replace("{label}", button.textContent);
          }, 50);  // a change of text after emptying it is announced again, even for the same reference
        }
      });
    });
    field.addEventListener("input", function () { showUses(field, known); });
  });
})();
