// The Activity view: the audit log (GET /api/audit, Administrator), newest first, by customer, page by page.
import { api } from "./api.js";
import { $, el, showText, whileBusy } from "./dom.js";
import { localTime } from "./format.js";

function row(record) {
  const who = record.actor.kind === "functionKey" ? "function key" : record.actor.name;
  return el("tr", {},
    el("td", { text: localTime(record.at) }),
    el("td", { text: who, attrs: { title: record.actor.id } }),
    el("td", { text: `${record.method} ${record.route}` }),
    el("td", { text: record.customerId || "-" }),
    el("td", { text: record.status }));
}

export function createActivity({ report }) {
  let token = null;

  async function load(more) {
    const query = new URLSearchParams({ top: "50" });
    const customer = $("activity-customer").value.trim();
    if (customer) query.set("customerId", customer);
    if (more && token) query.set("continuationToken", token);
    const page = await api("GET", `/api/audit?${query}`);
    if (!more) $("activity-rows").replaceChildren();
    $("activity-rows").append(...page.records.map(row));
    token = page.continuationToken;
    $("activity-more").hidden = !token;
    showText($("activity-empty"), $("activity-rows").children.length ? "" : "No changes recorded.");
  }

  $("activity-form").addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy($("activity-load"), () => load(false)).catch(report);
  });
  $("activity-more").addEventListener("click", (event) => whileBusy(event.currentTarget, () => load(true))
    .catch(report));
  return { load: () => load(false) };
}
