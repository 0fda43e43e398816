// Small enhancements only; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
  // focus moves to the first field in error (the list of errors at the top links to each)
  const first = document.querySelector("[aria-invalid=true]");
  if (first) { first.focus(); }
  // a long upload shows that it is under way
  document.querySelectorAll("form[data-progress]").forEach((form) => form.addEventListener("submit", () => {
    const bar = document.getElementById(form.dataset.progress);
    if (bar) { bar.hidden = false; }
  }));
});
