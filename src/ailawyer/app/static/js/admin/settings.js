// Admin settings: a refused save answers 422 with the form and its German messages. htmx
// does not swap error responses by default; for this form the answer is what to show.
// Afterwards the first invalid field gets the focus, so keyboard users land on it.

document.body.addEventListener("htmx:beforeSwap", (event) => {
  const { xhr, target } = event.detail;
  if (xhr.status === 422 && target instanceof Element && target.id === "runtime-settings") {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

document.body.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target?.id !== "runtime-settings") return;
  const form = document.getElementById("runtime-settings");
  form?.querySelector('[aria-invalid="true"]')?.focus();
});
