// DOM helpers. Every value from the API goes in as text (textContent), never as HTML.

export const $ = (id) => document.getElementById(id);

// el("td", { className: "x", text: value, attrs: { scope: "row" } }, child, ...)
export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, String(value));
  for (const child of children) if (child) node.append(child);
  return node;
}

export function showText(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

// A form's field errors: `prefix + field + "-error"` paragraphs beside the inputs, and a form-level one.
export function fieldErrors(form, prefix, general) {
  const inputs = () => form.querySelectorAll("input, select, textarea");
  return {
    clear() {
      for (const input of inputs()) input.removeAttribute("aria-invalid");
      for (const p of form.querySelectorAll(".field-error")) showText(p, "");
    },
    // Shows the message beside `field` when the form has it; otherwise in the form-level paragraph.
    show(field, message) {
      const input = field && $(prefix + field);
      const target = input && $(prefix + field + "-error");
      if (target && !input.closest("[hidden]")) {
        input.setAttribute("aria-invalid", "true");
        showText(target, message);
        input.focus();
      } else {
        showText(general, message);
      }
    },
  };
}

// The field an API error is about: its code names some; missingField/invalidField messages start with the name.
export function errorField(error, codes, fields) {
  if (codes[error.code]) return codes[error.code];
  const first = String(error.message).split(/[\s,.]/, 1)[0];
  return fields.includes(first) ? first : null;
}
