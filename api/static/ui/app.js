// Small enhancements only; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
  // focus moves to the first field in error (the list of errors at the top links to each); a group of tick
  // boxes cannot take the focus, its first box does
  const first = document.querySelector("[aria-invalid=true]");
  if (first) { (first.tagName === "FIELDSET" ? first.querySelector("input, select, textarea") || first : first).focus(); }
  // the roster upload shows how far it is (without JavaScript the form is posted and answers with the result)
  const roster = document.getElementById("roster-form");
  if (roster && window.XMLHttpRequest && window.FormData) { enhanceRoster(roster); }
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

// The roster upload is sent in the background: the bar shows the bytes sent, then the rows the import has
// read, as the job's progress address tells while the upload's own request runs; at the end the page goes to
// the job's result. A refusal (a file that cannot be read) replaces the page's content with the answer.
function enhanceRoster(form) {
  const box = document.getElementById("roster-progress");
  const bar = document.getElementById("roster-bar");
  const text = document.getElementById("roster-progress-text");
  const button = form.querySelector("button[type=submit]");
  const number = (value) => Number(value).toLocaleString("zh-CN");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let finished = false;
    let timer = null;
    const poll = () => {
      fetch(form.dataset.progressUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then((response) => (response.ok ? response.json() : null))
        .then((job) => {
          if (!job || finished) { return; }
          if (job.rows_total) { bar.max = job.rows_total; bar.value = Math.min(job.rows_read, job.rows_total); }
          const total = job.rows_total === null ? "" : ` / ${number(job.rows_total)}`;
          text.textContent = `正在导入：已读取 ${number(job.rows_read)}${total} 行（接受 ${number(job.rows_accepted)} 行，`
            + `未导入 ${number(job.rows_rejected)} 行）`;
        })
        .catch(() => {})
        .finally(() => { if (!finished) { timer = setTimeout(poll, 1000); } });
    };
    const stop = () => { finished = true; clearTimeout(timer); };
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", (sent) => {
      if (!sent.lengthComputable) { return; }
      bar.max = sent.total;
      bar.value = sent.loaded;
      text.textContent = `正在上传：${Math.round((sent.loaded * 100) / sent.total)}%`;
    });
    request.upload.addEventListener("load", () => {
      bar.max = 100;
      bar.value = 0;
      text.textContent = "已上传，正在导入……";
      poll();
    });
    request.addEventListener("load", () => {
      stop();
      if (request.status < 400) {
        window.location.assign(request.responseURL || form.dataset.resultUrl);
        return;
      }
      const answer = new DOMParser().parseFromString(request.responseText, "text/html").querySelector("main");
      if (answer) {
        document.querySelector("main").innerHTML = answer.innerHTML;
        const again = document.getElementById("roster-form");
        if (again) { enhanceRoster(again); }
        const problem = document.getElementById("roster-problem");
        if (problem) { problem.setAttribute("tabindex", "-1"); problem.focus(); }
        return;
      }
      text.textContent = `未能导入（${request.status}），请重新导入。`;
      button.disabled = false;
    });
    request.addEventListener("error", () => {
      stop();
      text.textContent = "上传中断，请检查网络后重新导入。";
      button.disabled = false;
    });
    button.disabled = true;
    box.hidden = false;
    bar.max = 100;
    bar.value = 0;
    text.textContent = "正在上传名单文件……";
    request.send(new FormData(form));
  });
}
