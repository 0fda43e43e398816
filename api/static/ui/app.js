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
  // the holiday month grid: a click on a day steps it through 常规 → 休 → 班
  document.querySelectorAll("table.month td.day").forEach((cell) => cell.addEventListener("click", (event) => {
    if (event.target.tagName === "SELECT" || event.target.tagName === "OPTION") { return; }
    event.preventDefault();
    const select = cell.querySelector("select");
    select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
    cell.classList.remove("holiday", "workday");
    if (select.value) { cell.classList.add(select.value); }
  }));
  document.querySelectorAll("table.month select").forEach((select) => select.addEventListener("change", () => {
    const cell = select.closest("td");
    cell.classList.remove("holiday", "workday");
    if (select.value) { cell.classList.add(select.value); }
  }));
});
