// One customer: its facts, verify now, Grant Consent, edit, delete, and its latest results.
import { api, id } from "./api.js";
import { confirmDialog, openModal } from "./dialogs.js";
import { $, el, showText, whileBusy } from "./dom.js";
import { CONSENT_CONFLICTS, CONSENT_OUTCOMES, METHODS, fromNow, label, localTime } from "./format.js";
import { emptyRow, setColumns, statusBadge, verdict, whenCell } from "./render.js";

const HISTORY_COLUMNS = ["Verified", "Method", "Status", "Why"];

const SECRETS = { password: "Password", refreshToken: "Refresh token", applicationSecret: "Application secret" };

function fact(term, ...value) {
  return el("div", {}, el("dt", { text: term }), el("dd", {}, ...value));
}

const wide = (node) => { node.className = "wide"; return node; }; // a fact as wide as the dialog

function renderFacts(view) {
  const secrets = view.secretsConfigured.map((name) => label(SECRETS, name)).join(", ");
  const facts = [
    fact("Tenant Id", view.tenantId),
    fact("M365 Email", view.m365Email || "Not set"),
    fact("Authentication Method", label(METHODS, view.authenticationMethod)),
    fact("Secrets stored", secrets ? `${secrets} (never shown)` : "None"),
    fact("When Last Verified", whenCell(view.whenLastVerified)),
    wide(fact("Last Verification Status", verdict(view.lastVerificationStatus, view.lastVerificationReason,
      view.lastVerificationMessage, view.hint))),
  ];
  if (view.pendingConsent) {
    facts.push(fact("Consent link pending",
      `${label(METHODS, view.pendingConsent.method)}, valid until ${localTime(view.pendingConsent.expiresAt)}`));
  }
  if (view.lastConsent) facts.push(wide(fact("Last consent", lastConsent(view.lastConsent))));
  $("customer-facts").replaceChildren(...facts);
}

// The latest consent attempt and, as its description, the provider's text (or ours), as text.
function lastConsent(consent) {
  const said = el("div", { className: "verdict" }, el("span", { className: `consent consent-${consent.outcome}`,
    text: `${label(CONSENT_OUTCOMES, consent.outcome)} (${label(METHODS, consent.method)}), ` +
      `${localTime(consent.at)}` }));
  if (consent.message) said.append(el("p", { className: "message", text: consent.message }));
  return said;
}

function renderHistory(history) {
  const rows = document.createDocumentFragment();
  for (const entry of history) {
    const why = verdict(null, entry.reason, entry.message, entry.hint); // the Status column says the status
    rows.append(el("tr", {},
      el("td", {}, whenCell(entry.verifiedAt)),
      el("td", { text: label(METHODS, entry.authenticationMethod) }),
      el("td", {}, statusBadge(entry.status)),
      el("td", {}, why)));
  }
  if (!history.length) rows.append(emptyRow(HISTORY_COLUMNS, "Not verified yet."));
  $("history-rows").replaceChildren(rows);
}

export function createCustomerDialog({ onChanged, onDeleted, onEdit, report }) {
  setColumns($("history"), HISTORY_COLUMNS);
  const dialog = $("customer-dialog");
  let current = null;

  async function show(customerId) {
    const detail = await api("GET", `/api/status/${id(customerId)}`);
    current = detail;
    $("customer-title").textContent = detail.customerId;
    renderFacts(detail);
    renderHistory(detail.history);
    $("customer-acknowledge").hidden = detail.lastVerificationStatus !== "failed";
    return detail;
  }

  $("customer-verify").addEventListener("click", (event) => {
    showText($("customer-state"), "Verifying...");
    whileBusy(event.currentTarget, async () => {
      const view = await api("POST", `/api/status/${id(current.customerId)}/verify`);
      await show(view.customerId);
      showText($("customer-state"), `Verified ${fromNow(view.whenLastVerified)}.`);
      onChanged(view);
    }).catch((error) => showText($("customer-state"), error.message));
  });

  // No reminders about this failure until the customer's state changes.
  $("customer-acknowledge").addEventListener("click", (event) => {
    whileBusy(event.currentTarget, async () => {
      await api("POST", `/api/status/${id(current.customerId)}/acknowledge`);
      showText($("customer-state"), "Failure acknowledged: no reminders about it until its state changes.");
    }).catch((error) => showText($("customer-state"), error.message));
  });

  $("customer-edit").addEventListener("click", () => onEdit(current));

  $("customer-delete").addEventListener("click", async () => {
    const who = current.customerId;
    const sure = await confirmDialog(`Delete ${who}?`,
      `The customer ${who}, its history and its stored secrets are deleted. This cannot be undone.`, "Delete");
    if (!sure) return;
    try {
      await api("DELETE", `/api/tenants/${id(who)}`);
      dialog.close();
      onDeleted(who);
    } catch (error) {
      showText($("customer-state"), error.message);
    }
  });

  $("consent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { method: $("consent-method").value };
    const hint = $("consent-hint").value.trim();
    if (hint) body.loginHint = hint;
    showText($("consent-error"), "");
    $("consent-result").hidden = true;
    try {
      const link = await api("POST", `/api/consent/${id(current.customerId)}`, body);
      $("consent-link").value = link.authorizationUrl;
      $("consent-expiry").textContent =
        `Valid once, until ${localTime(link.expiresAt)} (${fromNow(link.expiresAt)}).`;
      showText($("consent-copied"), "");
      $("consent-result").hidden = false;
      $("consent-link").focus();
      $("consent-link").select();
      await show(current.customerId); // the view now shows the pending link
    } catch (error) {
      const words = error.status === 409 ? CONSENT_CONFLICTS[error.code] : null;
      showText($("consent-error"), words || error.message);
    }
  });

  $("consent-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("consent-link").value);
      showText($("consent-copied"), "Copied.");
    } catch {
      $("consent-link").select();
      showText($("consent-copied"), "Select the link and copy it (Ctrl+C).");
    }
  });

  return {
    async open(customerId) {
      showText($("customer-state"), "");
      showText($("consent-error"), "");
      $("consent-result").hidden = true;
      $("consent-link").value = "";
      try {
        const detail = await show(customerId);
        $("consent-method").value = detail.authenticationMethod === "application" ? "application" : "token";
        $("consent-hint").value = detail.m365Email || "";
        openModal(dialog, $("customer-verify"), () => document.querySelector(
          `#rows tr[data-id="${CSS.escape(customerId)}"] button[data-action="open"]`));
      } catch (error) {
        report(error);
      }
    },
    async refresh() {
      if (dialog.open && current) await show(current.customerId);
    },
  };
}
