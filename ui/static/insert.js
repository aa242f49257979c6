// The data-insert panel (ui/templates/_insert_panel.html): each reference becomes a button that inserts its
// expression where the cursor is in a text field, keeps the focus there and says "inserted" politely; the list
// of data a field uses ("Uses: Trigger › Title") follows what the field holds. Without this script the panel lists
// the expressions to copy.
//
// A panel with `data-insert-source` (a step card of the builder) loads its list from that address when opened.
//
// A panel with a target inserts into that field; a panel without one (one panel for a whole step) inserts into
// the text field last worked in (else last focused) within its scope: the closest [data-insert-scope], else its
// form.
(function () {
  "use strict";
  var EXPRESSION = /{{-?\s*([\s\S]+?)\s*-?}}/g;

  function squeeze(text) { return text.replace(/\s+/g, " ").trim(); }

  function isTextField(element) {
    return element && typeof element.setRangeText === "function" && !element.readOnly && !element.disabled &&
      (element.tagName === "TEXTAREA" || /^(text|search|url|email)$/.test(element.type));
  }

  function labels(panel) {
    var found = {};
    panel.querySelectorAll("[data-insert]").forEach(function (button) {
      found[squeeze(button.getAttribute("data-insert").slice(3, -3))] = button.textContent;
    });
    return found;
  }

  function showUses(field, known) {
    var box = field.id && document.querySelector('[data-insert-uses="' + field.id + '"]');
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

  function say(status, text) {
    if (!status) { return; }
    status.textContent = "";
    // emptied first: the same message for a second insertion is announced again
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  // The buttons of the references in `place` (the panel, or the list just loaded into it).
  function enhance(place, state) {
    place.querySelectorAll("[data-insert-hint]").forEach(function (hint) { hint.hidden = !hint.hidden; });
    place.querySelectorAll("[data-insert-label]").forEach(function (label) { label.hidden = true; });
    place.querySelectorAll("[data-insert]").forEach(function (button) {
      button.hidden = false;
      if (state.fixed) { button.setAttribute("aria-controls", state.fixed.id); }
      // the field keeps its cursor: a button pressed with the mouse does not take the focus from it
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });
      button.addEventListener("click", function () {
        var field = state.fixed || state.last;
        if (!field) {
          say(state.status, state.status.getAttribute("data-no-field"));
          return;
        }
        insert(field, button.getAttribute("data-insert"));
        say(state.status, state.status.getAttribute("data-inserted").replace("{label}", button.textContent));
      });
    });
    state.known = labels(state.panel);
  }

  // A panel whose list is loaded when opened (a step card of the builder): the list is fetched again at each
  // opening, so that it follows the draft (a step renamed or added meanwhile). Should the fetch fail, what the
  // panel held without JavaScript stays: a button to the list as a page.
  function lazy(panel, state) {
    var content = panel.querySelector("[data-insert-content]");
    var address = panel.getAttribute("data-insert-source");
    panel.addEventListener("toggle", function () {
      if (!panel.open || !content) { return; }
      content.setAttribute("aria-busy", "true");
      var separator = address.indexOf("?") === -1 ? "?" : "&";
      fetch(address + separator + "fragment=1", { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) { throw new Error("no list"); }  // e.g. signed out: the sign-in page
          return response.text();
        }).then(function (html) {
          var list = new DOMParser().parseFromString(html, "text/html").body;
          content.replaceChildren.apply(content, Array.prototype.slice.call(list.childNodes));
          enhance(content, state);
        }).catch(function () { /* the button to the page stays */ })
        .then(function () { content.removeAttribute("aria-busy"); });
    });
  }

  document.querySelectorAll("[data-insert-panel]").forEach(function (panel) {
    if (panel.hasAttribute("data-insert-ready")) { return; }  // this script may run again on a page shown anew
    var targetId = panel.getAttribute("data-target");
    var fixed = targetId ? document.getElementById(targetId) : null;
    if (targetId && !isTextField(fixed)) { return; }  // not a text field: copying the expressions still works
    panel.setAttribute("data-insert-ready", "");
    var scope = fixed ? null : (panel.closest("[data-insert-scope]") || panel.closest("form") || document.body);
    var state = { panel: panel, fixed: fixed, last: null, known: {}, status: panel.querySelector("[data-insert-status]") };
    if (panel.hasAttribute("data-insert-source")) {
      lazy(panel, state);
    } else {
      enhance(panel, state);
    }
    if (fixed) {
      fixed.addEventListener("input", function () { showUses(fixed, state.known); });
    } else {
      // The field the person last worked in (typed, moved the cursor, clicked), else the one last focused: on the
      // way to the panel the keyboard passes the fields below the one being written, which must not take its place.
      var worked = null;
      scope.addEventListener("focusin", function (event) {
        if (isTextField(event.target) && !panel.contains(event.target)) { state.last = worked || event.target; }
      });
      ["input", "keydown", "pointerdown"].forEach(function (kind) {
        scope.addEventListener(kind, function (event) {
          if (!isTextField(event.target) || panel.contains(event.target)) { return; }
          if (kind === "keydown" && /^(Tab|Shift|Control|Alt|Meta)$/.test(event.key)) { return; }
          worked = state.last = event.target;
        });
      });
      scope.addEventListener("input", function (event) {
        if (isTextField(event.target)) { showUses(event.target, state.known); }
      });
    }
  });
})();
