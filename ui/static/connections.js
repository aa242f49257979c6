// The connections' pages: move the focus to the error summary after a refused form, or to the result of a test
// (the pages work without this).
document.addEventListener("DOMContentLoaded", () => {
  const target = document.querySelector(".error-summary") || document.querySelector("[data-focus]");
  if (target) target.focus();
});
