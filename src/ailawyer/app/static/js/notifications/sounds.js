// Sounds per notification type, as chosen under Einstellungen (all off by default).

import { onceAcrossTabs } from "./once.js";

export function createSounds() {
  let enabled = {};
  let urls = {};

  return {
    configure(preferences) {
      enabled = preferences.sounds ?? {};
      urls = preferences.sound_urls ?? {};
    },
    play(notification) {
      const sound = notification.sound;
      if (!sound || enabled[sound] !== true || !urls[sound]) return;
      onceAcrossTabs(`sound-${notification.id}`, () => {
        // Browsers refuse to play before the user has interacted with the page; fine.
        new Audio(urls[sound]).play().catch(() => {});
      });
    },
  };
}
