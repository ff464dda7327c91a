// System notifications (Notification API) while the tab is hidden, and the in-page question
// that carries the click browsers require before they ask for permission.
//
// The permission belongs to the browser: every browser whose Notification.permission is
// still "default" gets the question, whatever another browser of the same user answered.
// The server keeps only the person's choices: system notifications at all, and "Nicht mehr
// fragen". "Nicht jetzt" holds in this browser until the next sign-in (the prompt's
// data-sign-in changes with every sign-in).

import { api } from "../api.js";
import { onceAcrossTabs } from "./once.js";

const supported = "Notification" in window;
const LATER_KEY = "ailawyer.notifications.permission-later";

// Storage may be switched off; then "Nicht jetzt" lasts as long as the page.
function laterSaidFor() {
  try {
    return localStorage.getItem(LATER_KEY);
  } catch {
    return null;
  }
}

function sayLater(signIn) {
  try {
    localStorage.setItem(LATER_KEY, signIn);
  } catch {
    // nothing to keep it in: the question comes back with the next page
  }
}

export function createSystemNotifications({ onOpen }) {
  const prompt = document.getElementById("notification-permission-prompt");
  let wanted = false;
  let mayAsk = false;

  function update() {
    if (!prompt) return;
    prompt.hidden = !(
      supported &&
      wanted &&
      mayAsk &&
      Notification.permission === "default" &&
      laterSaidFor() !== prompt.dataset.signIn
    );
  }

  prompt?.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-answer]");
    if (!button) return;
    prompt.hidden = true;
    const answer = button.dataset.answer;
    if (answer === "never") {
      mayAsk = false;
      try {
        await api("/api/settings/browser-notifications", {
          method: "PUT",
          body: { ask_permission: false },
        });
      } catch (error) {
        console.warn("„Nicht mehr fragen“ nicht gespeichert", error);
      }
      return;
    }
    // The browser's dialog closed without an answer counts as "Nicht jetzt" too.
    if (answer === "ask" && (await Notification.requestPermission()) !== "default") return;
    sayLater(prompt.dataset.signIn);
  });

  // "Nicht jetzt" in another tab of this browser, or an answer there or in its settings.
  window.addEventListener("storage", (event) => {
    if (event.key === LATER_KEY) update();
  });
  navigator.permissions
    ?.query({ name: "notifications" })
    .then((status) => status.addEventListener("change", update))
    .catch(() => {});

  return {
    configure(preferences) {
      wanted = preferences.system_notifications;
      mayAsk = preferences.ask_permission;
      update();
    },
    show(notification) {
      if (!supported || !wanted || Notification.permission !== "granted") return;
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
