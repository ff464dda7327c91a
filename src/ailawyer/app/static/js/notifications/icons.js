// Icons rendered by the server into <template id="notification-icons"> (scripts cannot
// call icon()), cloned per use.

const source = document.getElementById("notification-icons");

export function icon(name) {
  const found = source?.content.querySelector(`[data-icon="${name}"] svg`);
  return found ? found.cloneNode(true) : document.createTextNode("");
}

// One element's named slot in a cloned template.
export function slot(element, name) {
  return element.querySelector(`[data-slot="${name}"]`);
}
