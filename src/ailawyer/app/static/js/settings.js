// Einstellungen: play a sound sample, and ask the browser for permission when the user
// chooses to see system notifications (the click on the choice is the required gesture).

for (const button of document.querySelectorAll("button[data-sound-preview]")) {
  button.addEventListener("click", () => {
    new Audio(button.dataset.soundPreview).play().catch(() => {});
  });
}

const blocked = document.getElementById("browser-permission-blocked");
const show = document.querySelector('input[name="browser_notifications"][value="granted"]');
const hide = document.querySelector('input[name="browser_notifications"][value="denied"]');

show?.addEventListener("change", async () => {
  if (!("Notification" in window)) {
    blocked.hidden = false;
    hide.checked = true;
    return;
  }
  const permission = await Notification.requestPermission();
  blocked.hidden = permission === "granted";
  if (permission !== "granted") hide.checked = true;
});
