// Notifications in the browser: the list from the server, live events from the socket,
// and the catch-up that makes sure none is missed and none shows twice.
//
// The cursor is `lastSeq`: every notification of this user up to it has been handled.
// Sequence numbers are per user, gapless and committed in order (see
// ailawyer/notifications/service.py), so:
// - a live event at or below the cursor, or one seen before, is a duplicate;
// - a live event beyond cursor + 1 means one is missing (events of different processes
//   may overtake each other, and a Redis blip drops them): fetch everything after the
//   cursor instead of advancing past the gap;
// - after every (re)connect, and whenever the server says events may be lost, fetch
//   everything after the cursor. A cursor the server cannot serve (409) reloads the list.
//
// The unread count comes from the server as a snapshot "count as of seq" (answers and
// events can overtake each other). The badge shows the newest snapshot plus the unread
// notifications this tab holds beyond its seq.

import { ApiError, api } from "../api.js";
import * as realtime from "../realtime.js";
import { createCenter } from "./center.js";
import { createSounds } from "./sounds.js";
import { createSystemNotifications } from "./system.js";
import { createToasts } from "./toasts.js";

const LIST_LIMIT = 50;
// After a reconnect, toasts for the first few; one summary toast for the rest.
const CATCH_UP_TOASTS = 3;
const RETRY_DELAYS_MS = [1000, 2000, 5000, 10000, 30000];
// Thousands of tabs asked to catch up at once should not arrive in the same second.
const RESYNC_SPREAD_MS = 3000;
const RECONNECT_SPREAD_MS = 1000;
const OPEN_WAIT_MS = 1500;
const ACTION_FAILED = "Das hat leider nicht geklappt. Bitte versuchen Sie es später erneut.";

const items = new Map(); // id -> notification, not dismissed, the newest LIST_LIMIT
const aheadOfCursor = new Set(); // seqs handled beyond a gap
let lastSeq = null;
let serverUnread = 0;
let serverSeq = -1;
let listStale = false;
let catchingUp = null;
let catchUpAgain = false;

const center = createCenter({
  onOpen: open,
  onRead: markRead,
  onDismiss: dismiss,
  onReadAll: markAllRead,
  onAction: runAction,
  onShow: () => {
    // Read or dismissed elsewhere while this tab was offline: only the list can tell.
    if (listStale) reload().catch(() => {});
  },
});
const toasts = createToasts({ onOpen: open, onAction: runAction, onShowAll: center.show });
const sounds = createSounds();
const system = createSystemNotifications({ onOpen: open });

function render() {
  const newest = [...items.values()].sort((a, b) => b.seq - a.seq);
  for (const stale of newest.slice(LIST_LIMIT)) items.delete(stale.id);
  center.render(newest.slice(0, LIST_LIMIT));
}

function showUnread() {
  let count = serverUnread;
  for (const notification of items.values()) {
    if (!notification.read && notification.seq > serverSeq) count += 1;
  }
  center.setUnread(Math.max(0, count));
}

// Take a server snapshot unless a newer one is already known.
function applyUnread({ unread_count: count, unread_seq: seq }) {
  if (seq < serverSeq) return;
  serverUnread = count;
  serverSeq = seq;
  showUnread();
}

// The user's own change, shown before the server confirms it.
function countAsRead(notification) {
  if (!notification.read && notification.seq <= serverSeq) serverUnread -= 1;
  notification.read = true;
}

function advanceCursor(to = lastSeq) {
  lastSeq = Math.max(lastSeq, to);
  for (const seq of aheadOfCursor) if (seq <= lastSeq) aheadOfCursor.delete(seq);
  while (aheadOfCursor.delete(lastSeq + 1)) lastSeq += 1;
}

// Handle one notification once; returns whether it was new.
function accept(notification) {
  if (notification.seq <= lastSeq || aheadOfCursor.has(notification.seq)) return false;
  if (items.has(notification.id)) return false;
  items.set(notification.id, notification);
  aheadOfCursor.add(notification.seq);
  advanceCursor();
  return true;
}

function announce(notification) {
  toasts.show(notification);
  sounds.play(notification);
  system.show(notification);
}

async function reload() {
  // At page load (the page's own request extended the session) and after a reset.
  const page = await api("/api/notifications", { background: true });
  items.clear();
  aheadOfCursor.clear();
  for (const notification of page.items) items.set(notification.id, notification);
  lastSeq = page.last_seq;
  listStale = false;
  sounds.configure(page.preferences);
  system.configure(page.preferences);
  serverSeq = -1;
  applyUnread(page);
  render();
}

async function retrying(task) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await task();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error;
      const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)];
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

const ready = retrying(reload);

async function fetchMissed() {
  let page;
  try {
    page = await api(`/api/notifications/after/${lastSeq}`, { background: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      await reload(); // too far behind, or the server was reset: start over
      return;
    }
    throw error;
  }
  const fresh = page.items.filter(accept).filter((notification) => !notification.read);
  advanceCursor(page.last_seq);
  applyUnread(page);
  render();
  for (const notification of fresh.slice(0, CATCH_UP_TOASTS)) announce(notification);
  if (fresh.length > CATCH_UP_TOASTS) toasts.showSummary(fresh.length - CATCH_UP_TOASTS);
}

// One catch-up at a time; a request during one runs again right after it.
function catchUp() {
  if (catchingUp) {
    catchUpAgain = true;
    return catchingUp;
  }
  catchingUp = (async () => {
    await ready;
    do {
      catchUpAgain = false;
      await retrying(fetchMissed);
    } while (catchUpAgain);
  })()
    .catch(() => {}) // only a 401 ends up here, and that already left for the login page
    .finally(() => {
      catchingUp = null;
    });
  return catchingUp;
}

// --- what the user does ---------------------------------------------------------------

// Optimistic: the list changes at once; if the server disagrees, its state wins.
async function markRead(notification) {
  if (notification.read) return;
  countAsRead(notification);
  render();
  showUnread();
  try {
    applyUnread(await api(`/api/notifications/${notification.id}/read`, { method: "POST" }));
  } catch {
    await reload().catch(() => {});
  }
}

async function open(notification) {
  const marking = markRead(notification);
  if (!notification.link) return;
  // Navigating cancels requests in flight: give marking-as-read a moment to arrive.
  await Promise.race([marking, new Promise((resolve) => setTimeout(resolve, OPEN_WAIT_MS))]);
  location.assign(notification.link);
}

async function dismiss(notification) {
  countAsRead(notification);
  items.delete(notification.id);
  render();
  showUnread();
  try {
    applyUnread(await api(`/api/notifications/${notification.id}/dismiss`, { method: "POST" }));
  } catch {
    await reload().catch(() => {});
  }
}

async function markAllRead() {
  for (const notification of items.values()) notification.read = true;
  serverUnread = 0;
  render();
  showUnread();
  try {
    applyUnread(await api("/api/notifications/read-all", { method: "POST" }));
  } catch {
    await reload().catch(() => {});
  }
}

async function runAction(notification, button, showError) {
  const { url, method } = notification.action;
  button.disabled = true;
  showError("");
  try {
    await api(url, { method });
    button.textContent = "Erledigt";
    await markRead(notification);
  } catch {
    button.disabled = false;
    showError(ACTION_FAILED);
  }
}

// --- what the server says ---------------------------------------------------------------

realtime.on(realtime.EVENTS.notification, async (notification) => {
  await ready;
  const gap = notification.seq > lastSeq + 1;
  if (!accept(notification)) return;
  render();
  showUnread();
  announce(notification);
  if (gap) catchUp();
});

realtime.on(realtime.EVENTS.notificationRead, async (change) => {
  await ready;
  for (const notification of items.values()) {
    if (change.ids?.includes(notification.id) || notification.seq <= (change.up_to_seq ?? -1)) {
      countAsRead(notification);
    }
  }
  render();
  applyUnread(change);
  showUnread();
});

realtime.on(realtime.EVENTS.notificationDismissed, async (change) => {
  await ready;
  const gone = items.get(change.id);
  if (gone) countAsRead(gone);
  items.delete(change.id);
  render();
  applyUnread(change);
  showUnread();
});

realtime.on(realtime.EVENTS.resync, () => {
  setTimeout(catchUp, Math.random() * RESYNC_SPREAD_MS);
});

let connectedBefore = false;
realtime.onConnect(() => {
  if (!connectedBefore) {
    connectedBefore = true;
    catchUp();
    return;
  }
  // After a restart every tab reconnects at once; their catch-ups need not.
  listStale = true;
  setTimeout(catchUp, Math.random() * RECONNECT_SPREAD_MS);
});

realtime.start();
