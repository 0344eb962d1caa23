// A form's fields and its validation messages. index.html declares a field by its control alone: `data-label`
// for its label, and `aria-describedby` naming its help paragraphs (right after it). formFields builds the rest
// once: a .field around them, the <label>, and a hidden "<control id>-error" paragraph for its message.
import { el, showText } from "./dom.js";

function buildField(control) {
  const label = el("label", { text: control.dataset.label, attrs: { for: control.id } });
  const field = el("div", { className: "field" }, label);
  const described = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  const help = described.map((id) => document.getElementById(id)).filter(Boolean);
  const error = el("p", { className: "field-error", attrs: { id: `${control.id}-error` } });
  error.hidden = true;
  control.replaceWith(field);
  field.append(control, ...help, error);
  control.setAttribute("aria-describedby", [...described, error.id].join(" "));
  control.removeAttribute("data-label"); // built: building again leaves it alone
}

// The field an API error is about: the one its `target` names; without a target, the one its message starts
// with (each validation message of the API names its field first: "clientId must be a GUID ..."). Null when
// this form shows no such field: the message goes to the form's own paragraph.
function fieldOf(form, error) {
  const name = error.target ?? String(error.message).split(/[\s,.]/, 1)[0];
  const control = name ? form.elements.namedItem(name) : null;
  const shown = control instanceof HTMLElement && control.parentElement.classList.contains("field");
  return shown && !control.closest("[hidden]") ? control : null;
}

// Builds the form's fields; answers how to show an API error in it (`general`: the form's own paragraph).
export function formFields(form, general) {
  for (const control of form.querySelectorAll("[data-label]")) buildField(control);
  return {
    clear() {
      for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
      for (const p of form.querySelectorAll(".field-error")) showText(p, "");
    },
    show(error) {
      const control = fieldOf(form, error);
      if (!control) {
        showText(general, error.message);
        return;
      }
      control.setAttribute("aria-invalid", "true");
      showText(document.getElementById(`${control.id}-error`), error.message);
      control.focus();
    },
  };
}
