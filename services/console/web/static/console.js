// The console works without JavaScript; this only makes long operations update in place
// (instead of reloading the page) and the error page's "Go back" link go back.
"use strict";

function followJob(block) {
  const url = block.dataset.jobProgress;
  const poll = async () => {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    } catch (error) {
      setTimeout(poll, 2000); // the console restarting, or the network: try again
      return;
    }
    if (!response.ok) return;
    const html = await response.text();
    const next = new DOMParser().parseFromString(html, "text/html").querySelector(".job");
    if (!next) return;
    block.replaceChildren(next);
    const state = next.dataset.state;
    if (state === "running") {
      setTimeout(poll, 500);
    } else if (state === "done" && next.dataset.doneUrl) {
      window.location.assign(next.dataset.doneUrl);
    } else {
      const heading = next.querySelector("h2, .notice");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    }
  };
  const current = block.querySelector(".job");
  if (current && current.dataset.state === "running") setTimeout(poll, 500);
  else if (current && current.dataset.state === "done" && current.dataset.doneUrl) window.location.assign(current.dataset.doneUrl);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-job-progress]").forEach(followJob);
  document.querySelectorAll("a[data-back]").forEach((link) => {
    link.addEventListener("click", (event) => {
      if (window.history.length > 1) { event.preventDefault(); window.history.back(); }
    });
  });
  const summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();
});
