// What the customers table and the customer dialog both show: a status badge, a time and how long ago it was,
// and a verdict. Text only.
import { el } from "./dom.js";
import { REASONS, STATUSES, fromNow, label, localTime } from "./format.js";

export function statusBadge(status) {
  return el("span", { className: `status status-${status}`, text: label(STATUSES, status) });
}

export function whenCell(iso) {
  if (!iso) return el("span", { className: "muted", text: "Never" });
  return el("span", {},
    el("time", { text: localTime(iso), attrs: { datetime: iso } }),
    el("span", { className: "ago", text: fromNow(iso), attrs: { "data-ago": iso } }));
}

// A table's header row from its column labels, and the row that stands for no rows across all its columns: made
// from one list, they cannot disagree. A label { hidden: text } is read to screen readers only.
export function setColumns(table, labels) {
  table.createTHead().replaceChildren(el("tr", {}, ...labels.map((label) => el("th", { attrs: { scope: "col" } },
    typeof label === "string" ? label : el("span", { className: "visually-hidden", text: label.hidden })))));
}

export function emptyRow(labels, text) {
  return el("tr", {}, el("td", { text, attrs: { colspan: labels.length } }));
}

// "5 minutes ago" goes stale: refresh every [data-ago] now and then.
export function refreshAgo() {
  for (const span of document.querySelectorAll("[data-ago]")) span.textContent = fromNow(span.dataset.ago);
}

// Status, reason, the provider's message and what to do, as words.
export function verdict(status, reason, message, hint) {
  const cell = el("div", { className: "verdict" }, status ? statusBadge(status) : null);
  if (reason) cell.append(el("span", { className: "reason", text: label(REASONS, reason) }));
  if (message) cell.append(el("p", { className: "message", text: message }));
  if (hint) cell.append(el("p", { className: "hint" }, el("strong", { text: "What to do: " }), hint));
  return cell;
}
