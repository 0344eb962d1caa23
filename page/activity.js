// The Activity view: the audit log (GET /api/audit, Administrator), newest first, by customer, 50 at a time.
import { api } from "./api.js";
import { $, el, showText, whileBusy } from "./dom.js";
import { localTime } from "./format.js";
import { setColumns } from "./render.js";

const COLUMNS = ["When", "Who", "What", "Customer Id", "Outcome"];

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
  setColumns($("activity-table"), COLUMNS);
  let token = null;

  async function load(more) {
    const query = new URLSearchParams({ top: "50" });
    const customer = $("activity-customer").value.trim();
    if (customer) query.set("customerId", customer);
    if (more && token) query.set("continuationToken", token);
    const listing = await api("GET", `/api/audit?${query}`);
    if (!more) $("activity-rows").replaceChildren();
    $("activity-rows").append(...listing.records.map(row));
    token = listing.continuationToken;
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
