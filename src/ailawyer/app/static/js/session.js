// Leaving for the login page once the session is gone: once, and never while the
// user is already navigating (e.g. the logout form of this very page).

let leaving = false;

window.addEventListener("submit", (event) => {
  if (!event.defaultPrevented) leaving = true;
});
// A page restored from the back/forward cache is live again.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) leaving = false;
});

export function leaveForLogin(hinweis) {
  if (leaving) return;
  leaving = true;
  if (hinweis === "abgemeldet") {
    location.assign("/anmelden?hinweis=abgemeldet");
    return;
  }
  const next = encodeURIComponent(`${location.pathname}${location.search}`);
  location.assign(`/anmelden?next=${next}&hinweis=${encodeURIComponent(hinweis)}`);
}
