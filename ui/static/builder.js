// The builder's enhancements. Without them every action still works: each button posts the whole form, the server
// keeps the draft and answers with the page again. With them: a warning before leaving with edits not kept, the
// draft kept automatically while typing, the focus on the error summary of a refused form, and "move" and
// "delete" done in place (the server renders the new page; the focus goes to the moved card and the live region
// says what happened).
(function () {
  "use strict";

  var AUTOSAVE_AFTER = 2000; // ms after the last keystroke
  var dirty = false;
  var timer = null;
  var inPlace = true;

  function builder() { return document.querySelector("form[data-builder]"); }
  function watched(target) { return target && target.closest && target.closest("form[data-builder], form[data-yaml-form]"); }

  function changed(event) {
    if (!watched(event.target)) { return; }
    dirty = true;
    if (builder() && builder().contains(event.target)) { schedule(); }
  }
  // A refused form: the focus goes to the error summary (the GOV.UK pattern), whose links lead to each field.
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }

  document.addEventListener("input", changed);
  document.addEventListener("change", changed);

  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(autosave, AUTOSAVE_AFTER);
  }

  function status(text) {
    var place = document.querySelector("[data-autosave-status]");
    if (place) { place.textContent = text; }
  }

  function autosave() {
    var form = builder();
    if (!form || !dirty) { return; }
    var data = new FormData(form);
    data.set("action", "autosave");
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin" }).then(function (response) {
      if (response.status === 204) {
        dirty = false;
        var place = document.querySelector("[data-autosave-status]");
        status(place ? place.getAttribute("data-saved-text") : "");
      }
    }).catch(function () { /* kept on the next action instead */ });
  }

  // A tab link with edits not kept yet: keep them first (the server then shows the other tab).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-tab]");
    var form = builder();
    if (!link || !form || !dirty || link.getAttribute("aria-current") === "page") { return; }
    if (link.getAttribute("href").slice(-5) !== "/yaml") { return; }
    event.preventDefault();
    var action = document.createElement("input");
    action.type = "hidden"; action.name = "action"; action.value = "yaml";
    form.appendChild(action);
    dirty = false;
    form.submit();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    window.clearTimeout(timer);
    var button = event.submitter;
    if (!inPlace || form !== builder() || !button || !button.hasAttribute("data-move")) {
      dirty = false;
      return;
    }
    event.preventDefault();
    var data = new FormData(form);
    data.append(button.name, button.value);
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin" }).then(function (response) {
      if (!response.ok || !response.redirected) { throw new Error("not the builder again"); }
      return response.text().then(function (html) { show(html, response.url); });
    }).catch(function () {
      inPlace = false; // the ordinary way: the browser posts the form and follows the answer
      form.requestSubmit(button);
    });
  });

  // The new page's content in place of the old one; the live region stays the same element, so what it now says
  // is announced.
  function show(html, address) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var main = document.querySelector("main");
    var fresh = page.querySelector("main");
    var live = document.getElementById("builder-announce");
    var said = page.getElementById("builder-announce");
    if (!main || !fresh || !live || !said) { window.location.assign(address); return; }
    var text = said.textContent.trim();
    said.replaceWith(live);
    live.textContent = "";
    main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
    document.title = page.title;
    window.history.replaceState(null, "", address);
    dirty = false;
    if (main.querySelector("[data-insert-panel]")) { // the data-insert panels are new: enhance them as on load
      var again = document.createElement("script");
      again.src = "/static/insert.js";
      document.body.appendChild(again);
    }
    var target = main.querySelector("[autofocus]");
    if (target) { target.focus(); }
    window.setTimeout(function () {
      var line = document.createElement("p");
      line.textContent = text;
      live.appendChild(line);
    }, 100);
  }
}());
