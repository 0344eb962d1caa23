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

// Runs `work` with `button` disabled, so a second click cannot start it again meanwhile; answers what `work`
// answers (or throws what it throws).
export async function whileBusy(button, work) {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}
