// German dates for people: "vor 5 Minuten", "gestern", "28.11.2026, 14:05".
//
// Times are shown on the installation's wall clock (TIME_ZONE, handed over by base.html),
// not the browser's: a time in the bell reads the same as the server-rendered pages
// (ailawyer.app.web.templating) wherever the computer stands.

const timeZone = document.querySelector('meta[name="time-zone"]')?.content || undefined;
const relative = new Intl.RelativeTimeFormat("de", { numeric: "auto" });
const absolute = new Intl.DateTimeFormat("de-DE", {
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZone,
});

export function absoluteTime(date) {
  return absolute.format(date);
}

export function relativeTime(date, now = Date.now()) {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 45) return "gerade eben";
  if (size < 45 * 60) return relative.format(Math.round(seconds / 60), "minute");
  if (size < 22 * 3600) return relative.format(Math.round(seconds / 3600), "hour");
  if (size < 6 * 86400) return relative.format(Math.round(seconds / 86400), "day");
  return absoluteTime(date);
}
