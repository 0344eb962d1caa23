// The customers table: server-side filters (status, method), paging over continuationToken, and a search by
// Customer Id over the rows loaded. Rows are built off-document in a DocumentFragment, with text only.
import { api } from "./api.js";
import { $, el } from "./dom.js";
import { CONSENT_OUTCOMES, METHODS, STATUSES, count, label, localTime } from "./format.js";
import { expiresCell } from "./expiry.js";
import { setColumns, verdict, whenCell } from "./render.js";

const TOP = 1000; // the most one listing holds (the API's maximum `top`)
const COLUMNS = ["Customer Id", "M365 Email", "Authentication Method", "When Last Verified", "Last Verification Status",
  "Expires", { hidden: "Actions" }];

function row(view) {
  const tr = el("tr", { attrs: { "data-id": view.customerId } });
  const open = el("button", { className: "link", text: view.customerId,
    attrs: { type: "button", "data-action": "open", "aria-haspopup": "dialog" } });
  // data-label names each cell where a narrow screen stacks a row into a card (app.css).
  tr.append(
    el("th", { attrs: { scope: "row" } }, open),
    el("td", { text: view.m365Email || "", className: "email", attrs: { "data-label": "M365 Email" } }),
    el("td", { text: label(METHODS, view.authenticationMethod), attrs: { "data-label": "Method" } }),
    el("td", { attrs: { "data-label": "Last verified" } }, whenCell(view.whenLastVerified)),
  );
  const status = verdict(view.lastVerificationStatus, view.lastVerificationReason,
    view.lastVerificationMessage, view.hint);
  if (view.pendingConsent) {
    status.append(el("p", { className: "pending",
      text: `Consent link handed out, valid until ${localTime(view.pendingConsent.expiresAt)}.` }));
  } else if (view.lastConsent && view.lastConsent.outcome !== "granted") {
    // Until the next link: a consent that did not happen, which left the connection (the status) as it was.
    status.append(el("p", { className: "consent-note",
      text: `${label(CONSENT_OUTCOMES, view.lastConsent.outcome)} ${localTime(view.lastConsent.at)}; ` +
        "the connection is unchanged." }));
  }
  const verify = el("button", { text: "Verify now", attrs: { type: "button", "data-action": "verify", "data-needs": "Operator" } },
    el("span", { className: "visually-hidden", text: ` ${view.customerId}` }));
  tr.append(el("td", { attrs: { "data-label": "Status" } }, status), expiresCell(view),
    el("td", { className: "row-actions" }, verify));
  return tr;
}

export function createTable({ onOpen, onVerify }) {
  setColumns($("customers"), COLUMNS);
  const body = $("rows");
  const state = { filters: { status: "", method: "", expiring: "" }, token: null, loaded: 0, search: "", generation: 0 };

  body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = button.closest("tr").dataset.id;
    (button.dataset.action === "open" ? onOpen : onVerify)(id, button);
  });

  function query() {
    const params = new URLSearchParams({ top: String(TOP) });
    if (state.filters.status) params.set("status", state.filters.status);
    if (state.filters.method) params.set("method", state.filters.method);
    if (state.filters.expiring) params.set("expiringWithinDays", state.filters.expiring);
    if (state.token) params.set("continuationToken", state.token);
    return `/api/status?${params}`;
  }

  function matches(tr) {
    return !state.search || tr.dataset.id.toLowerCase().includes(state.search);
  }

  function describe() {
    const shown = [...body.rows].filter((tr) => !tr.hidden).length;
    const filtered = [state.filters.status && label(STATUSES, state.filters.status),
      state.filters.method && label(METHODS, state.filters.method),
      state.filters.expiring && `expiring within ${count(Number(state.filters.expiring), "day", "days")}`]
      .filter(Boolean);
    $("table-caption").textContent = filtered.length ? `Customers (${filtered.join(", ")})` : "All customers";
    let text = state.search ? `${shown} of ${count(state.loaded, "customer", "customers")} loaded match`
      : `Showing ${count(state.loaded, "customer", "customers")}`;
    if (state.token) text += "; more to load";
    if (!state.loaded && !state.token) text = "No customers" + (filtered.length ? " match these filters." : " yet.");
    $("shown").textContent = text;
    $("load-more").hidden = !state.token;
  }

  function append(tenants) {
    const fragment = document.createDocumentFragment();
    for (const view of tenants) {
      const tr = row(view);
      tr.hidden = !matches(tr);
      fragment.append(tr);
    }
    body.append(fragment);
    state.loaded += tenants.length;
  }

  async function list(fresh) {
    const generation = fresh ? ++state.generation : state.generation;
    if (fresh) state.token = null;
    const answer = await api("GET", query());
    if (generation !== state.generation) return null; // a newer reload started meanwhile
    if (fresh) {
      body.replaceChildren();
      state.loaded = 0;
    }
    append(answer.tenants);
    state.token = answer.continuationToken;
    describe();
    return answer;
  }

  return {
    // The first customers for the current filters; answers the summary over every customer.
    async reload() {
      const answer = await list(true);
      return answer && answer.summary;
    },
    async more() {
      if (state.token) await list(false);
    },
    setFilters(filters) {
      state.filters = filters;
    },
    search(text) {
      state.search = text.trim().toLowerCase();
      for (const tr of body.rows) tr.hidden = !matches(tr);
      describe();
    },
    // Replace a customer's row after it changed (verified, edited); a new customer waits for the next reload.
    update(view) {
      const old = body.querySelector(`tr[data-id="${CSS.escape(view.customerId)}"]`);
      if (!old) return;
      const fresh = row(view);
      fresh.hidden = !matches(fresh);
      old.replaceWith(fresh);
    },
    // The Customer Ids of the rows shown (loaded, and matching the search), in table order.
    shownIds() {
      return [...body.rows].filter((tr) => !tr.hidden).map((tr) => tr.dataset.id);
    },
    remove(customerId) {
      const old = body.querySelector(`tr[data-id="${CSS.escape(customerId)}"]`);
      if (old) {
        old.remove();
        state.loaded -= 1;
        describe();
      }
    },
    focusRow(customerId, action) {
      const tr = body.querySelector(`tr[data-id="${CSS.escape(customerId)}"]`);
      const button = tr && tr.querySelector(`button[data-action="${action}"]`);
      if (button) button.focus();
    },
  };
}
