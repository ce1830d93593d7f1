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

// Analytics: the charts, drawn by the vendored uPlot from the page's JSON (tables hold the same).
window.addEventListener("load", () => {
  const source = document.getElementById("charts-data");
  if (!source || typeof window.uPlot !== "function") return;
  const charts = JSON.parse(source.textContent);
  const colours = ["#1f5fbf", "#b5402a"];
  for (const host of document.querySelectorAll(".uplot-host")) {
    const chart = charts[Number(host.dataset.chart)];
    if (!chart || chart.rows.length === 0) continue;
    const columns = [chart.rows.map((r) => r[0])];
    chart.series.forEach((_, i) => columns.push(chart.rows.map((r) => r[i + 1])));
    const width = Math.min(host.parentElement.clientWidth, 720);
    new window.uPlot({
      width, height: 200,
      series: [{}, ...chart.series.map((label, i) => ({ label, stroke: colours[i % 2], width: 2 }))],
      axes: [{}, { size: 60 }],
    }, columns, host);
  }
});
