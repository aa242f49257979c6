// A secret shown once (a new API token, a one-time password link): the focus moves to it, and a button copies it.
(function () {
  "use strict";
  var section = document.querySelector(".shown-once");
  if (!section) { return; }
  var field = section.querySelector("input");
  var button = section.querySelector("button.copy");
  var status = section.querySelector(".copy-status");
  section.focus();
  if (!button || !navigator.clipboard) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(function () {
      status.textContent = button.getAttribute("data-copied");
    }, function () {
      field.select();
    });
  });
}());
