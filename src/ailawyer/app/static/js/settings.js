// Einstellungen: play a sound sample; show this browser's permission for system
// notifications and let the user ask the browser (a click is the gesture browsers require).

for (const button of document.querySelectorAll("button[data-sound-preview]")) {
  button.addEventListener("click", () => {
    new Audio(button.dataset.soundPreview).play().catch(() => {});
  });
}

const STATES = {
  granted: ["Erlaubt", "Dieser Browser zeigt Systemmeldungen an."],
  denied: [
    "Blockiert",
    "Ihr Browser blockiert Benachrichtigungen für diese Seite und fragt nicht erneut. " +
      "Sie können das in den Website-Einstellungen Ihres Browsers ändern.",
  ],
  default: ["Noch nicht entschieden", "Ihr Browser fragt erst, wenn Sie es möchten."],
  unsupported: ["Nicht unterstützt", "Dieser Browser kann keine Systemmeldungen anzeigen."],
};

const box = document.getElementById("browser-permission");
const state = document.getElementById("browser-permission-state");
const hint = document.getElementById("browser-permission-hint");
const ask = document.getElementById("browser-permission-ask");
const show = document.querySelector('input[name="system_notifications"]');
const supported = "Notification" in window;

function showPermission() {
  const permission = supported ? Notification.permission : "unsupported";
  [state.textContent, hint.textContent] = STATES[permission];
  box.dataset.permission = permission;
  ask.hidden = permission !== "default";
  box.hidden = false;
}

async function askBrowser() {
  if (supported && Notification.permission === "default") await Notification.requestPermission();
  showPermission();
}

if (box) {
  showPermission();
  ask.addEventListener("click", askBrowser);
  // Choosing system notifications in a browser that was not asked yet asks it right away.
  show.addEventListener("change", () => {
    if (show.checked) askBrowser();
  });
  // Changed in the browser's site settings or another tab while this page is open.
  navigator.permissions
    ?.query({ name: "notifications" })
    .then((status) => status.addEventListener("change", showPermission))
    .catch(() => {});
}
