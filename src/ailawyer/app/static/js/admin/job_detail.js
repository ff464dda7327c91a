// One job's page: filter its log lines, follow new ones ("Mitlaufen"), and copy its data,
// options and return value. jobs.js fetches the job's fragment again on every update and
// announces each new one ("jobs:replaced"), so what a person set here (the filter,
// following, which JSON is open) lives in this module and is applied to every new fragment.
// While following an unfinished job, the fragment is asked for every TAIL_POLL_MS: log
// lines alone send no update.

const TAIL_POLL_MS = 2000;
const COPIED_MS = 2000;
const FINISHED = new Set(["completed", "failed"]);
const numbers = new Intl.NumberFormat("de-DE");
const settings = { filter: "", tail: false, open: new Map() };
let poll = null;

function detail() {
  return document.getElementById("job-detail");
}

function showLines(root) {
  const log = root.querySelector("[data-job-log]");
  if (!log) return;
  const needle = settings.filter.trim().toLocaleLowerCase("de");
  const lines = [...log.querySelectorAll("li")];
  let shown = 0;
  for (const line of lines) {
    const hit = !needle || line.textContent.toLocaleLowerCase("de").includes(needle);
    line.hidden = !hit;
    if (hit) shown += 1;
  }
  const note = root.querySelector("[data-job-log-shown]");
  if (note) {
    note.textContent = needle
      ? `${numbers.format(shown)} von ${numbers.format(lines.length)} Zeilen`
      : "";
  }
  if (settings.tail) log.scrollTop = log.scrollHeight;
}

function apply(root) {
  const tools = root.querySelector("[data-job-log-tools]");
  if (tools) {
    tools.hidden = false;
    tools.querySelector("[data-job-log-filter]").value = settings.filter;
    tools.querySelector("[data-job-log-tail]").checked = settings.tail;
  }
  showLines(root);
  for (const block of root.querySelectorAll("[data-json-block]")) {
    const open = settings.open.get(block.dataset.jsonBlock);
    if (open !== undefined) block.open = open;
  }
  for (const button of root.querySelectorAll("[data-copy]")) {
    button.hidden = !navigator.clipboard;
  }
  follow();
}

// Ask jobs.js for the fragment now and then while following a job that may still log.
function follow() {
  const root = detail();
  const wanted = settings.tail && root && !FINISHED.has(root.dataset.state);
  if (wanted && !poll) {
    poll = setInterval(() => {
      document.dispatchEvent(new CustomEvent("jobs:refresh", { detail: { id: "job-detail" } }));
    }, TAIL_POLL_MS);
  } else if (!wanted && poll) {
    clearInterval(poll);
    poll = null;
  }
}

async function copy(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Kopiert";
  } catch {
    button.textContent = "Nicht kopiert";
  }
  setTimeout(() => {
    button.textContent = label;
  }, COPIED_MS);
}

document.addEventListener("input", (event) => {
  if (!event.target.matches("[data-job-log-filter]")) return;
  settings.filter = event.target.value;
  showLines(detail());
});

document.addEventListener("change", (event) => {
  if (!event.target.matches("[data-job-log-tail]")) return;
  settings.tail = event.target.checked;
  showLines(detail());
  follow();
});

// "toggle" does not bubble: listen while it travels down.
document.addEventListener(
  "toggle",
  (event) => {
    const block = event.target;
    if (block instanceof HTMLDetailsElement && block.dataset.jsonBlock) {
      settings.open.set(block.dataset.jsonBlock, block.open);
    }
  },
  true,
);

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button) copy(button);
});

document.addEventListener("jobs:replaced", (event) => {
  if (event.detail?.id === "job-detail") apply(detail());
});

if (detail()) apply(detail());
