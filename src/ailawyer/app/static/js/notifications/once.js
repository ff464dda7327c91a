// Run something for one notification in only one of the user's open tabs (a sound or a
// system notification must not come three times). Without the Web Locks API: every tab.

const HOLD_MS = 10000;

export function onceAcrossTabs(key, run) {
  if (!navigator.locks) {
    run();
    return;
  }
  navigator.locks.request(`ailawyer:${key}`, { ifAvailable: true }, async (lock) => {
    if (!lock) return;
    run();
    // Held a while, so a tab that hears of it a moment later finds it taken.
    await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
  });
}
