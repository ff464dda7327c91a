// System notifications (Notification API) while the tab is hidden, and the one-time
// in-page question that carries the click browsers require before asking.

import { api } from "../api.js";
import { onceAcrossTabs } from "./once.js";

const supported = "Notification" in window;

export function createSystemNotifications({ onOpen }) {
  const prompt = document.getElementById("notification-permission-prompt");
  let answer = null;

  async function remember(permission) {
    answer = permission;
    try {
      await api("/api/settings/browser-notifications", { method: "PUT", body: { permission } });
    } catch (error) {
      console.warn("Antwort zu Browser-Benachrichtigungen nicht gespeichert", error);
    }
  }

  prompt?.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-answer]");
    if (!button) return;
    prompt.hidden = true;
    const permission =
      button.dataset.answer === "ask" ? await Notification.requestPermission() : "default";
    await remember(permission);
  });

  return {
    configure(preferences) {
      answer = preferences.browser_notifications ?? null;
      if (prompt) prompt.hidden = !(supported && answer === null);
    },
    show(notification) {
      if (!supported || answer !== "granted" || Notification.permission !== "granted") return;
      if (document.visibilityState !== "hidden") return;
      onceAcrossTabs(`system-${notification.id}`, () => {
        const shown = new Notification(notification.title, {
          body: notification.message,
          // Same tag in every tab: the system shows it once.
          tag: `ailawyer-notification-${notification.id}`,
          lang: "de",
          icon: "/static/img/favicon.svg",
        });
        shown.addEventListener("click", () => {
          window.focus();
          shown.close();
          onOpen(notification);
        });
      });
    },
  };
}
