// The page's one Socket.IO connection: WebSocket only, reconnecting with backoff,
// rejoining the Akte room of the page after every connect, and leaving for the login
// page when the server ends the session. Other modules subscribe with on()/onConnect().

import { leaveForLogin } from "./session.js";

// Mirrors ailawyer/realtime/events.py.
export const EVENTS = Object.freeze({
  notification: "notification",
  notificationRead: "notification:read",
  notificationDismissed: "notification:dismissed",
  resync: "notifications:resync",
  sessionEnded: "session:ended",
  akteJoin: "akte:join",
  akteLeave: "akte:leave",
  dokumentStatus: "dokument:status",
  dokumentProgress: "dokument:progress",
  jobsJoin: "jobs:join",
  jobsUpdate: "jobs:update",
});

const ACK_TIMEOUT_MS = 5000;
const RETRY_MAX_MS = 30000;
// The connection state, for styles (and tests): "connecting", "connected" or "offline".
const stateHolder = document.getElementById("notification-root");
const handlers = new Map();
const connectHandlers = new Set();
let socket = null;
let endedReason = null;

function pageAkteId() {
  const id = Number(document.querySelector("main[data-akte-id]")?.dataset.akteId);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

async function joinAkteRoom() {
  const id = pageAkteId();
  if (id === null) return;
  try {
    const answer = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(EVENTS.akteJoin, id);
    if (!answer?.ok) console.warn("Keine Live-Aktualisierung für diese Akte:", answer?.error);
  } catch {
    // No answer in time; the next connect tries again, and the page itself is complete.
  }
}

export function on(event, handler) {
  if (!handlers.has(event)) handlers.set(event, new Set());
  handlers.get(event).add(handler);
}

export function onConnect(handler) {
  connectHandlers.add(handler);
  if (socket?.connected) handler();
}

export function start() {
  if (socket !== null) return socket;
  if (typeof window.io !== "function") {
    console.error("socket.io-client fehlt (/static/vendor/socket.io.min.js)");
    return null;
  }
  socket = window.io({
    transports: ["websocket"],
    reconnectionDelay: 1000,
    reconnectionDelayMax: 15000,
    randomizationFactor: 0.5,
  });
  const setState = (state) => {
    if (stateHolder) stateHolder.dataset.connection = state;
  };
  setState("connecting");
  socket.on("connect", () => {
    setState("connected");
    joinAkteRoom();
    for (const handler of connectHandlers) handler();
  });
  // Refused by the server: socket.io does not retry by itself. "unavailable" is a
  // passing problem on the server (try again); anything else means no valid session.
  let refusals = 0;
  socket.on("connect", () => {
    refusals = 0;
  });
  socket.on("connect_error", (error) => {
    if (socket.active) return;
    if (error?.message === "unavailable") {
      refusals += 1;
      const delay = Math.min(RETRY_MAX_MS, 1000 * 2 ** refusals) * (0.5 + Math.random());
      setTimeout(() => socket.connect(), delay);
    } else {
      leaveForLogin("abgelaufen");
    }
  });
  socket.on(EVENTS.sessionEnded, (data) => {
    endedReason = data?.reason ?? "expired";
  });
  socket.on("disconnect", (reason) => {
    setState("offline");
    if (reason === "io server disconnect") {
      leaveForLogin(endedReason === "logout" ? "abgemeldet" : "abgelaufen");
    }
  });
  socket.onAny((event, data) => {
    for (const handler of handlers.get(event) ?? []) handler(data);
  });
  window.addEventListener("pagehide", () => {
    const id = pageAkteId();
    if (id !== null && socket.connected) socket.emit(EVENTS.akteLeave, id);
  });
  return socket;
}
