// The worker's pages work without JavaScript; this only fills the 查询码 carried in a QR link's fragment
// (never sent to the server) and offers employer names from the employers table while typing.
document.addEventListener("DOMContentLoaded", () => {
  const code = document.getElementById("code");
  const params = new URLSearchParams(window.location.hash.slice(1));
  if (code && params.get("code")) {
    code.value = params.get("code");
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  const employer = document.querySelector("input[data-suggest]");
  const list = document.getElementById("employer-names");
  if (!employer || !list) return;
  let timer = null;
  employer.addEventListener("input", () => {
    clearTimeout(timer);
    const typed = employer.value.trim();
    if (typed.length < 2) return;
    timer = setTimeout(async () => {
      const response = await fetch(employer.dataset.suggest + "?q=" + encodeURIComponent(typed));
      if (!response.ok) return;
      list.replaceChildren(...(await response.json()).map((name) => {
        const option = document.createElement("option");
        option.value = name;
        return option;
      }));
    }, 200);
  });
});
