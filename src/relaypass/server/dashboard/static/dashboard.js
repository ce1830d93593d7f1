// relaypass dashboard: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: <button data-copy="input-id">.
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      try { await navigator.clipboard.writeText(field.value); } catch { document.execCommand("copy"); }
      button.textContent = "Copied";
    });
  }
  // Confirmations: a form or button with data-confirm.
  for (const element of document.querySelectorAll("[data-confirm]")) {
    const form = element.tagName === "FORM" ? element : element.form;
    const ask = (event) => { if (!window.confirm(element.dataset.confirm)) event.preventDefault(); };
    if (element.tagName === "FORM") form.addEventListener("submit", ask);
    else element.addEventListener("click", ask);
  }
  // Countdowns to a time in ms: <span class="countdown" data-until="...">.
  const countdowns = document.querySelectorAll(".countdown");
  if (countdowns.length) {
    const tick = () => {
      let done = false;
      for (const span of countdowns) {
        const left = Math.ceil((Number(span.dataset.until) - Date.now()) / 1000);
        span.textContent = left > 0 ? `${left} s` : "now";
        if (left <= 0 && !span.dataset.done) { span.dataset.done = "1"; done = true; }
      }
      if (done) window.setTimeout(() => window.location.reload(), 500);
    };
    tick();
    window.setInterval(tick, 1000);
  }
  // Times in ms -> the viewer's local time, with UTC on hover.
  for (const time of document.querySelectorAll("time[data-ms]")) {
    const when = new Date(Number(time.dataset.ms));
    time.dateTime = when.toISOString();
    time.title = when.toISOString().replace("T", " ").slice(0, 19) + " UTC";
    time.textContent = when.toLocaleString();
  }
});
