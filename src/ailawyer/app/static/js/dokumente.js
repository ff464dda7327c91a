// The Akte page's Dokumente: upload one file per request with a progress bar each, live
// status and progress from the Akte's room, and "Erneut versuchen" on failed rows. The
// server renders every row; this module only asks for fresh rows and swaps them in.
// On a Dokument's own page it reloads the page when that Dokument's status changes.

import { ApiError, BACKGROUND, api, csrfToken } from "./api.js";
import * as realtime from "./realtime.js";
import { leaveForLogin } from "./session.js";

const form = document.getElementById("dokument-upload");
const akteId = Number(document.querySelector("main[data-akte-id]")?.dataset.akteId);
// Set on a Dokument's own page (akten/dokument.html), which has no table rows.
const pageDokumentId = Number(document.querySelector("main[data-dokument-id]")?.dataset.dokumentId);
const RETRY_FAILED = "Das hat nicht geklappt. Bitte versuchen Sie es erneut.";
const UPLOAD_FAILED = "Hochladen fehlgeschlagen. Bitte versuchen Sie es erneut.";
// Row refreshes run one after another per Dokument, so an older answer never wins.
const rowQueues = new Map();

// Row and list refreshes follow socket events, not a person: background requests.
async function fetchHtml(url) {
  const response = await fetch(url, {
    headers: { Accept: "text/html", ...BACKGROUND },
    credentials: "same-origin",
  });
  if (response.status === 401) leaveForLogin("abgelaufen");
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}

function parse(html) {
  // A <template> parses table rows in table context, and nothing in it runs.
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

async function refreshList() {
  const current = document.getElementById("dokumente");
  if (!current) return;
  const fresh = parse(await fetchHtml(current.dataset.listUrl));
  document.getElementById("dokumente")?.replaceWith(fresh);
}

function refreshRow(id) {
  const previous = rowQueues.get(id) ?? Promise.resolve();
  const next = previous
    .then(async () => {
      if (!document.getElementById(`dokument-${id}`)) return refreshList();
      const fresh = parse(await fetchHtml(`/akten/${akteId}/dokumente/${id}/zeile`));
      document.getElementById(`dokument-${id}`)?.replaceWith(fresh);
    })
    .catch((error) => console.warn("Dokument nicht aktualisiert:", error));
  rowQueues.set(id, next);
  return next;
}

// --- live updates -----------------------------------------------------------------------

realtime.on(realtime.EVENTS.dokumentStatus, (data) => {
  if (data?.akteId !== akteId) return;
  if (pageDokumentId) {
    if (data.dokumentId === pageDokumentId) window.location.reload();
    return;
  }
  refreshRow(data.dokumentId);
});

realtime.on(realtime.EVENTS.dokumentProgress, (data) => {
  if (data?.akteId !== akteId) return;
  const bar = document.querySelector(`#dokument-${data.dokumentId} progress`);
  if (bar) {
    bar.value = data.progress;
    bar.setAttribute("aria-valuetext", `${data.progress} %`);
  }
});

// After every (re)connect: whatever happened while the socket was away is in the list.
realtime.onConnect(() => {
  if (!pageDokumentId) refreshList().catch((error) => console.warn(error));
});
realtime.start();

// --- retry ------------------------------------------------------------------------------

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-retry-url]");
  if (!button) return;
  const row = button.closest("tr[data-dokument-id]");
  button.disabled = true;
  try {
    await api(button.dataset.retryUrl, { method: "POST" });
    if (row) await refreshRow(Number(row.dataset.dokumentId));
    else window.location.reload();
  } catch (error) {
    button.disabled = false;
    const message = document.createElement("p");
    message.className = "field__error";
    message.setAttribute("role", "alert");
    message.textContent = (error instanceof ApiError && error.body?.detail) || RETRY_FAILED;
    button.after(message);
  }
});

// --- upload -----------------------------------------------------------------------------

function showMessage(text) {
  const messages = form.querySelector("#dokument-upload-messages");
  messages.replaceChildren();
  if (!text) return;
  const alert = document.createElement("div");
  alert.className = "alert alert--error";
  alert.setAttribute("role", "alert");
  const body = document.createElement("p");
  body.textContent = text;
  alert.append(body);
  messages.append(alert);
}

function listItem(file) {
  const item = document.createElement("li");
  item.className = "upload-list__item";
  const name = document.createElement("span");
  name.className = "upload-list__name";
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.className = "progress";
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", `Hochladen von ${file.name}`);
  const state = document.createElement("span");
  state.className = "upload-list__state";
  state.textContent = "Wartet …";
  item.append(name, bar, state);
  return { item, bar, state };
}

function finish({ item, bar, state }, ok, text) {
  item.dataset.state = ok ? "done" : "error";
  bar.value = ok ? 100 : bar.value;
  bar.classList.add(ok ? "progress--success" : "progress--danger");
  state.textContent = text;
}

function send(file, view) {
  return new Promise((resolve) => {
    const body = new FormData();
    body.append("dateien", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("x-csrftoken", csrfToken());
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) view.bar.value = Math.round((event.loaded / event.total) * 100);
    });
    request.addEventListener("load", () => {
      if (request.status === 401) leaveForLogin("abgelaufen");
      let detail = null;
      try {
        detail = JSON.parse(request.responseText)?.detail;
      } catch {
        // Not JSON (a proxy's error page): the generic message below says enough.
      }
      const ok = request.status === 201;
      finish(view, ok, ok ? "Hochgeladen" : detail || UPLOAD_FAILED);
      resolve(ok);
    });
    request.addEventListener("error", () => {
      finish(view, false, UPLOAD_FAILED);
      resolve(false);
    });
    view.state.textContent = "Wird hochgeladen …";
    request.send(body);
  });
}

async function uploadAll() {
  const input = form.querySelector('input[type="file"]');
  const files = [...input.files];
  const maxBytes = Number(form.dataset.maxBytes);
  const maxFiles = Number(form.dataset.maxFiles);
  showMessage("");
  if (files.length === 0) return showMessage("Bitte wählen Sie mindestens eine PDF-Datei aus.");
  if (files.length > maxFiles) {
    return showMessage(`Bitte laden Sie höchstens ${maxFiles} Dateien auf einmal hoch.`);
  }
  const list = form.querySelector("#dokument-upload-list");
  list.replaceChildren();
  list.hidden = false;
  const views = files.map((file) => {
    const view = listItem(file);
    list.append(view.item);
    return view;
  });
  for (const [index, file] of files.entries()) {
    if (file.size > maxBytes) {
      finish(views[index], false, `Die Datei ist zu groß (höchstens ${form.dataset.maxMb} MB).`);
      continue;
    }
    await send(file, views[index]);
  }
  input.value = "";
  await refreshList().catch((error) => console.warn(error));
}

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  uploadAll();
});
