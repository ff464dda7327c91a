// The job explorer's pages, kept current without polling: the page joins the explorer's
// Socket.IO room (the server picks it: the operator's, or the ADMIN's Kanzlei's), patches
// counts in place from each `jobs:update` (a Kanzlei's updates carry none: its counts are
// fetched from /admin/jobs/counts instead, at most every COUNTS_INTERVAL_MS), and
// fetches the server-rendered fragment again ([data-jobs-refresh], same URL) when an
// update concerns what it shows. After every (re)connect it catches up: counts from
// /admin/jobs/counts, every fragment fresh. Confirmations open in the page's <dialog>;
// without this module their links open the same question as a page.

import { BACKGROUND, api } from "../api.js";
import * as realtime from "../realtime.js";
import { leaveForLogin } from "../session.js";

const ACK_TIMEOUT_MS = 5000;
// Least time between two fetches of one fragment: a busy queue sends updates twice a second.
const MIN_INTERVAL_MS = { "jobs-overview": 5000, "queue-body": 1000, "job-detail": 500 };
// A Kanzlei's counts come from a scan the server reuses for 10 s (jobs/kanzlei_counts.py).
const COUNTS_INTERVAL_MS = 10000;
const REMOVED = "Dieser Vorgang wurde inzwischen entfernt.";
const LIVE_TEXT = {
  connecting: "Verbinde …",
  live: "Live",
  offline: "Offline – die Seite zeigt den Stand beim Laden",
};
const numbers = new Intl.NumberFormat("de-DE");

// --- live state --------------------------------------------------------------------------

function setLive(state) {
  for (const element of document.querySelectorAll("[data-live-state]")) {
    element.dataset.liveState = state;
    const text = element.querySelector("[data-live-text]");
    if (text) text.textContent = LIVE_TEXT[state];
  }
}

// --- counts ------------------------------------------------------------------------------

function patchCounts(queue, counts, paused) {
  for (const [state, value] of Object.entries(counts ?? {})) {
    for (const cell of document.querySelectorAll(`[data-count="${CSS.escape(`${queue}:${state}`)}"]`)) {
      const text = numbers.format(value);
      if (cell.textContent !== text) cell.textContent = text;
    }
  }
  for (const pill of document.querySelectorAll(`[data-paused-queue="${CSS.escape(queue)}"]`)) {
    pill.hidden = !paused;
  }
}

// --- fragments ---------------------------------------------------------------------------

const fragments = new Map(); // element id -> { running, again, last, timer }

// Refreshes follow socket events, not a person: they leave the session's idle time alone.
async function fetchFragment(url) {
  const response = await fetch(url, {
    headers: { Accept: "text/html", ...BACKGROUND },
    credentials: "same-origin",
  });
  if (response.status === 401) leaveForLogin("abgelaufen");
  return response;
}

function parse(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

function markRemoved(element) {
  if (element.querySelector("[data-removed]")) return;
  const alert = document.createElement("div");
  alert.className = "alert alert--warning";
  alert.setAttribute("role", "status");
  alert.dataset.removed = "";
  const body = document.createElement("p");
  body.textContent = REMOVED;
  alert.append(body);
  element.prepend(alert);
}

async function load(id) {
  const current = document.getElementById(id);
  if (!current) return;
  const response = await fetchFragment(current.dataset.jobsRefresh);
  if (response.status === 404 && id === "job-detail") return markRemoved(current);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const fresh = parse(await response.text());
  const target = document.getElementById(id);
  if (!fresh || fresh.id !== id || !target) return;
  // Keep the keyboard where it was: the same control in the new fragment gets the focus.
  const focused = target.contains(document.activeElement) ? document.activeElement : null;
  const path = focused ? focusPath(focused) : null;
  target.replaceWith(fresh);
  if (path) focusByPath(fresh, path);
  // For modules that keep what a person set in the fragment (job_detail.js).
  document.dispatchEvent(new CustomEvent("jobs:replaced", { detail: { id } }));
}

function focusPath(element) {
  const row = element.closest("[data-job-id]")?.dataset.jobId;
  return { row, text: element.textContent.trim(), tag: element.tagName };
}

function focusByPath(root, { row, text, tag }) {
  const scope = row ? root.querySelector(`[data-job-id="${CSS.escape(row)}"]`) : root;
  const match = [...(scope?.querySelectorAll(tag) ?? [])].find((e) => e.textContent.trim() === text);
  match?.focus();
}

// Fetch fragment `id` again: at most one request at a time, at most one per interval,
// and a request asked for while one runs is made once afterwards.
function refresh(id) {
  const state = fragments.get(id) ?? { running: false, again: false, last: 0, timer: null };
  fragments.set(id, state);
  if (state.running) {
    state.again = true;
    return;
  }
  if (state.timer) return;
  const wait = Math.max(0, state.last + (MIN_INTERVAL_MS[id] ?? 1000) - Date.now());
  state.timer = setTimeout(async () => {
    state.timer = null;
    state.running = true;
    state.last = Date.now();
    try {
      await load(id);
    } catch (error) {
      console.warn("Ansicht nicht aktualisiert:", error);
    } finally {
      state.running = false;
      if (state.again) {
        state.again = false;
        refresh(id);
      }
    }
  }, wait);
}

function listed(element, jobId) {
  return element.querySelector(`[data-job-id="${CSS.escape(jobId)}"]`) !== null;
}

// Whether an update may change what fragment `element` shows.
function concerns(element, update) {
  if (element.id === "jobs-overview") return true;
  if (element.dataset.queue !== update.queue) return false;
  const jobs = update.jobs ?? [];
  if (element.id === "job-detail") {
    return update.more || jobs.some((job) => job.id === element.dataset.jobId);
  }
  // A queue's list: a whole-queue change (pause, clean, retry all), a job it lists, or
  // (on the first page, where new jobs appear) any job of its state or of unknown state.
  if (update.more || jobs.length === 0 || jobs.some((job) => listed(element, job.id))) return true;
  if ("search" in element.dataset || element.dataset.page !== "1") return false;
  return jobs.some((job) => job.state === null || job.state === element.dataset.state);
}

let countsTimer = null;
let countsLast = 0;

// Fetch every count again, at most once per COUNTS_INTERVAL_MS.
function refreshCounts() {
  if (countsTimer) return;
  const wait = Math.max(0, countsLast + COUNTS_INTERVAL_MS - Date.now());
  countsTimer = setTimeout(async () => {
    countsTimer = null;
    countsLast = Date.now();
    await loadCounts();
  }, wait);
}

async function loadCounts() {
  try {
    const answer = await api("/admin/jobs/counts", { background: true });
    for (const [queue, data] of Object.entries(answer?.queues ?? {})) {
      patchCounts(queue, data.counts, data.paused);
    }
  } catch (error) {
    console.warn("Zähler nicht geladen:", error);
  }
}

function onUpdate(update) {
  if (!update?.queue) return;
  patchCounts(update.queue, update.counts, update.paused);
  if (!update.counts) refreshCounts();
  for (const element of document.querySelectorAll("[data-jobs-refresh]")) {
    if (concerns(element, update)) refresh(element.id);
  }
}

async function catchUp() {
  await loadCounts();
  for (const element of document.querySelectorAll("[data-jobs-refresh]")) refresh(element.id);
}

// --- confirmations -----------------------------------------------------------------------

document.addEventListener("click", async (event) => {
  const close = event.target.closest("[data-dialog-close]");
  if (close) {
    close.closest("dialog")?.close();
    return;
  }
  const link = event.target.closest("a[data-confirm]");
  const dialog = document.getElementById("confirm-dialog");
  if (!link || !dialog || typeof dialog.showModal !== "function") return;
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  try {
    const response = await fetch(link.href, {
      headers: { Accept: "text/html", "X-Confirm-Dialog": "1" },
      credentials: "same-origin",
    });
    if (response.status === 401) return leaveForLogin("abgelaufen");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    // Our own server-rendered, autoescaped fragment; nothing in it runs.
    dialog.replaceChildren(parse(await response.text()));
    dialog.showModal();
  } catch {
    location.assign(link.href); // the same question as a page
  }
});

document.addEventListener("submit", (event) => {
  // One click, one action: a second submit while the first is on its way does nothing.
  const button = event.target.querySelector('button[type="submit"]');
  if (event.target.closest("dialog, .confirm-page, .inline-form") && button) {
    queueMicrotask(() => {
      button.disabled = true;
    });
  }
});

// --- start -------------------------------------------------------------------------------

if (document.querySelector("[data-jobs-refresh]")) {
  realtime.on(realtime.EVENTS.jobsUpdate, onUpdate);
  // Another module asks for a fragment (job_detail.js while following a job's log).
  document.addEventListener("jobs:refresh", (event) => {
    if (event.detail?.id) refresh(event.detail.id);
  });
  const socket = realtime.start();
  if (socket) {
    setLive(socket.connected ? "live" : "connecting");
    socket.on("disconnect", () => setLive("offline"));
    realtime.onConnect(async () => {
      try {
        const answer = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(realtime.EVENTS.jobsJoin);
        setLive(answer?.ok ? "live" : "offline");
      } catch {
        setLive("offline"); // no answer in time; the next connect tries again
      }
      await catchUp();
    });
  } else {
    setLive("offline");
  }
}
