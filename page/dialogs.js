// Modal dialogs on <dialog>: showModal() traps focus and Escape closes; focus goes back to the opener.
import { $ } from "./dom.js";
import { formFields } from "./form-fields.js";

// `fallback()` finds where focus goes when the opener is gone meanwhile (its row was re-rendered).
export function openModal(dialog, focus, fallback) {
  const opener = document.activeElement;
  dialog.addEventListener("close", () => {
    const target = opener && opener.isConnected ? opener : fallback && fallback();
    if (target && typeof target.focus === "function") target.focus();
  }, { once: true });
  if (!dialog.open) dialog.showModal();
  if (focus) focus.focus();
}

// Every [data-close] button closes its dialog.
export function wireCloseButtons() {
  for (const button of document.querySelectorAll("dialog [data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
}

// Resolves true when the person confirms, false when they cancel (button or Escape).
export function confirmDialog(title, text, yesLabel) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yesLabel;
  return new Promise((resolve) => {
    let answer = false;
    const yes = () => { answer = true; dialog.close(); };
    const no = () => dialog.close();
    $("confirm-yes").addEventListener("click", yes);
    $("confirm-no").addEventListener("click", no);
    dialog.addEventListener("close", () => {
      $("confirm-yes").removeEventListener("click", yes);
      $("confirm-no").removeEventListener("click", no);
      resolve(answer);
    }, { once: true });
    openModal(dialog, $("confirm-no")); // the safe choice has the focus
  });
}

// Resolves the key typed, or null when the person cancels.
export function askForKey(refused) {
  const dialog = $("key-dialog");
  const form = $("key-form");
  formFields(form); // its one field, built the first time
  const input = $("key-input");
  input.value = "";
  $("key-title").textContent = refused ? "That function key was refused" : "Function key needed";
  return new Promise((resolve) => {
    let key = null;
    const submit = (event) => {
      event.preventDefault();
      key = input.value.trim() || null;
      dialog.close();
    };
    const cancel = () => dialog.close();
    form.addEventListener("submit", submit);
    $("key-cancel").addEventListener("click", cancel);
    dialog.addEventListener("close", () => {
      form.removeEventListener("submit", submit);
      $("key-cancel").removeEventListener("click", cancel);
      input.value = "";
      resolve(key);
    }, { once: true });
    openModal(dialog, input);
  });
}
