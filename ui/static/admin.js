// The page of a new API token: a button copies the token (shown once) and says so; the field is focused and selected.
(function () {
  "use strict";
  var field = document.getElementById("new-token");
  var button = document.getElementById("copy-token");
  var status = document.getElementById("copy-status");
  if (!field) { return; }
  document.getElementById("new-token-section").focus();
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
