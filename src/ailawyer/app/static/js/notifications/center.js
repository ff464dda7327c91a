// The bell with its unread badge, and the notification center that drops down from it:
// the last 50 notifications, unread ones marked, with "Als gelesen markieren",
// "Entfernen", the notification's action, and "Alle als gelesen markieren".

import { absoluteTime, relativeTime } from "../format.js";
import { icon, slot } from "./icons.js";

const REFRESH_TIMES_MS = 30000;

export function createCenter({ onOpen, onRead, onDismiss, onReadAll, onAction, onShow }) {
  const root = document.getElementById("notification-root");
  const bell = document.getElementById("notification-bell");
  const badge = document.getElementById("notification-count");
  const panel = document.getElementById("notification-center");
  const list = document.getElementById("notification-list");
  const empty = document.getElementById("notification-empty");
  const loading = document.getElementById("notification-loading");
  const readAll = document.getElementById("notification-read-all");
  const unreadText = document.getElementById("notification-center-count");
  const confirmDialog = document.getElementById("notification-read-all-dialog");
  const question = document.getElementById("notification-read-all-question");
  let unread = 0;
  const template = document.getElementById("notification-item-template");
  const elements = new Map();
  const byId = new Map();
  let timesTimer = null;

  function show() {
    if (!panel.hidden) return;
    panel.hidden = false;
    bell.setAttribute("aria-expanded", "true");
    refreshTimes();
    timesTimer = setInterval(refreshTimes, REFRESH_TIMES_MS);
    panel.focus();
    onShow();
  }

  function hide({ returnFocus = false } = {}) {
    if (panel.hidden) return;
    panel.hidden = true;
    bell.setAttribute("aria-expanded", "false");
    clearInterval(timesTimer);
    if (returnFocus) bell.focus();
  }

  bell.setAttribute("aria-controls", panel.id);
  bell.addEventListener("click", () => (panel.hidden ? show() : hide()));
  document.addEventListener("keydown", (event) => {
    // Escape in the confirmation closes only the confirmation.
    if (event.key === "Escape" && !panel.hidden && !confirmDialog.open) {
      hide({ returnFocus: true });
    }
  });
  document.addEventListener("click", (event) => {
    if (!panel.hidden && !root.contains(event.target)) hide();
  });
  readAll.addEventListener("click", () => {
    if (unread <= 1) {
      onReadAll();
      return;
    }
    question.textContent = `${unread} ungelesene Benachrichtigungen werden als gelesen markiert.`;
    confirmDialog.returnValue = "";
    confirmDialog.showModal();
  });
  confirmDialog.addEventListener("close", () => {
    if (confirmDialog.returnValue === "confirm") onReadAll();
    readAll.focus();
  });

  list.addEventListener("click", (event) => {
    const item = event.target.closest(".notification-item");
    const notification = item && byId.get(Number(item.dataset.id));
    if (!notification) return;
    const command = event.target.closest("button[data-command]")?.dataset.command;
    if (command === "read") {
      onRead(notification);
    } else if (command === "dismiss") {
      // Keep keyboard users in the list: focus moves to the neighbour.
      const neighbour = item.nextElementSibling ?? item.previousElementSibling;
      onDismiss(notification);
      (neighbour?.querySelector("button") ?? panel).focus();
    } else if (command === "action") {
      const button = event.target.closest("button");
      onAction(notification, button, (text) => showError(item, text));
    } else if (!event.target.closest("button")) {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      hide();
      onOpen(notification);
    }
  });

  function showError(item, text) {
    const error = slot(item, "error");
    error.textContent = text;
    error.hidden = !text;
  }

  function build(notification) {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.id = String(notification.id);
    slot(item, "icon").append(icon(notification.severity));
    slot(item, "icon").classList.add(`notification-item__icon--${notification.severity}`);
    const title = slot(item, "title");
    if (notification.link) {
      const anchor = document.createElement("a");
      anchor.className = "notification-item__link";
      anchor.href = notification.link;
      anchor.textContent = notification.title;
      title.append(anchor);
    } else {
      title.textContent = notification.title;
    }
    const message = slot(item, "message");
    message.textContent = notification.message;
    message.hidden = !notification.message;
    const time = slot(item, "time");
    const created = new Date(notification.created_at);
    time.dateTime = notification.created_at;
    time.title = absoluteTime(created);
    if (notification.action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn--secondary btn--sm";
      button.dataset.command = "action";
      button.append(icon("action"), document.createTextNode(notification.action.label));
      slot(item, "actions").append(button);
      slot(item, "actions").hidden = false;
    }
    return item;
  }

  function update(item, notification) {
    item.classList.toggle("notification-item--unread", !notification.read);
    slot(item, "unread-label").hidden = notification.read;
    item.querySelector('[data-command="read"]').hidden = notification.read;
    const time = slot(item, "time");
    time.textContent = relativeTime(new Date(notification.created_at));
  }

  function refreshTimes() {
    for (const [id, item] of elements) update(item, byId.get(id));
  }

  return {
    show,
    // Keyed: existing rows are updated in place, so focus and scrolling survive updates.
    render(notifications) {
      const wanted = new Set(notifications.map((n) => n.id));
      for (const [id, item] of elements) {
        if (!wanted.has(id)) {
          item.remove();
          elements.delete(id);
          byId.delete(id);
        }
      }
      let previous = null;
      for (const notification of notifications) {
        let item = elements.get(notification.id);
        if (!item) {
          item = build(notification);
          elements.set(notification.id, item);
        }
        byId.set(notification.id, notification);
        update(item, notification);
        const expected = previous ? previous.nextElementSibling : list.firstElementChild;
        if (item !== expected) list.insertBefore(item, expected);
        previous = item;
      }
      loading.hidden = true;
      empty.hidden = notifications.length > 0;
    },
    setUnread(count) {
      unread = count;
      badge.textContent = count > 99 ? "99+" : String(count);
      badge.hidden = count === 0;
      bell.setAttribute(
        "aria-label",
        count === 0 ? "Benachrichtigungen" : `Benachrichtigungen, ${count} ungelesen`,
      );
      readAll.disabled = count === 0;
      unreadText.textContent = count === 0 ? "" : `${count} ungelesen`;
    },
  };
}
