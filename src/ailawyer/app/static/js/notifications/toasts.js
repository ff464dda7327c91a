// Toasts, bottom right: one per new notification, gone after 5 seconds of being seen
// (hover, keyboard focus and a hidden tab pause the clock), clickable to the link,
// with the notification's action as a button. Text goes in with textContent only.

import { icon, slot } from "./icons.js";

const DISPLAY_MS = 5000;
// After the pointer or focus leaves, enough time to read the end of it.
const AFTER_PAUSE_MIN_MS = 1500;
const MAX_VISIBLE = 5;
const LEAVE_FALLBACK_MS = 400;

export function createToasts({ onOpen, onAction, onShowAll }) {
  const stack = document.getElementById("toast-stack");
  const template = document.getElementById("toast-template");
  const open = new Set();

  document.addEventListener("visibilitychange", () => {
    for (const toast of open) toast.sync();
  });

  function mount({ severity, title, message, link, build }) {
    const element = template.content.firstElementChild.cloneNode(true);
    element.classList.add(`toast--${severity}`);
    slot(element, "icon").append(icon(severity));
    const titleSlot = slot(element, "title");
    if (link) {
      const anchor = document.createElement("a");
      anchor.className = "toast__link";
      anchor.href = link;
      anchor.textContent = title;
      titleSlot.append(anchor);
      element.classList.add("toast--link");
    } else {
      titleSlot.textContent = title;
    }
    const messageSlot = slot(element, "message");
    messageSlot.textContent = message;
    messageSlot.hidden = !message;

    let remaining = DISPLAY_MS;
    let startedAt = 0;
    let timer = null;
    let hovered = false;
    let focused = false;
    let closed = false;

    const toast = {
      element,
      // Run the clock only while the toast can actually be read.
      sync() {
        const running = !closed && !hovered && !focused && document.visibilityState === "visible";
        if (running && timer === null) {
          startedAt = performance.now();
          timer = setTimeout(toast.close, Math.max(remaining, 0));
        } else if (!running && timer !== null) {
          clearTimeout(timer);
          timer = null;
          remaining = Math.max(remaining - (performance.now() - startedAt), AFTER_PAUSE_MIN_MS);
        }
      },
      close() {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        open.delete(toast);
        element.classList.add("toast--leaving");
        const remove = () => element.remove();
        element.addEventListener("animationend", remove, { once: true });
        setTimeout(remove, LEAVE_FALLBACK_MS);
      },
    };

    element.addEventListener("mouseenter", () => {
      hovered = true;
      toast.sync();
    });
    element.addEventListener("mouseleave", () => {
      hovered = false;
      toast.sync();
    });
    element.addEventListener("focusin", () => {
      focused = true;
      toast.sync();
    });
    element.addEventListener("focusout", (event) => {
      if (element.contains(event.relatedTarget)) return;
      focused = false;
      toast.sync();
    });
    element.addEventListener("keydown", (event) => {
      if (event.key === "Escape") toast.close();
    });
    element.querySelector('[data-command="close"]').addEventListener("click", toast.close);

    build?.(element, toast);
    while (open.size >= MAX_VISIBLE) [...open][0].close();
    open.add(toast);
    stack.append(element);
    toast.sync();
    return toast;
  }

  function showError(element, text) {
    const error = slot(element, "error");
    error.textContent = text;
    error.hidden = !text;
  }

  return {
    show(notification) {
      return mount({
        severity: notification.severity,
        title: notification.title,
        message: notification.message,
        link: notification.link,
        build(element, toast) {
          const follow = (event) => {
            // Keep the browser's own handling of "open in new tab".
            if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
            event.preventDefault();
            toast.close();
            onOpen(notification);
          };
          element.querySelector(".toast__link")?.addEventListener("click", follow);
          element.addEventListener("click", (event) => {
            if (!notification.link || event.target.closest("a, button")) return;
            follow(event);
          });
          if (!notification.action) return;
          const actions = slot(element, "actions");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "btn btn--secondary btn--sm toast__action";
          button.append(icon("action"), document.createTextNode(notification.action.label));
          button.addEventListener("click", () =>
            onAction(notification, button, (text) => showError(element, text)),
          );
          actions.append(button);
          actions.hidden = false;
        },
      });
    },
    // "3 weitere": when many arrived at once (after a reconnect), one toast for the rest.
    showSummary(count) {
      return mount({
        severity: "info",
        title: `${count} weitere neue Benachrichtigungen`,
        message: "",
        link: null,
        build(element, toast) {
          const actions = slot(element, "actions");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "btn btn--secondary btn--sm toast__action";
          button.textContent = "Anzeigen";
          button.addEventListener("click", () => {
            toast.close();
            onShowAll();
          });
          actions.append(button);
          actions.hidden = false;
        },
      });
    },
  };
}
