// Log viewer: a click on a jobId or userId in a line puts it into the filter form and
// submits it (htmx swaps the entries). The links carry the same filter as a plain URL, so
// they work without this script, too. Delegated, because htmx replaces the entries.

const form = document.getElementById("log-filter");

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-log-filter]");
  if (!form || !link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) {
    return;
  }
  const input = form.elements.namedItem(link.dataset.logFilter);
  if (!(input instanceof HTMLInputElement)) return;
  event.preventDefault();
  input.value = link.dataset.logValue;
  form.requestSubmit();
});
