// The Authentication Status page: wires the parts together. Every datum comes from the API (openapi.yaml).
import { whoIsSignedIn, showWho } from "./access.js";
import { createActivity } from "./activity.js";
import { api, id, setKeyPrompt } from "./api.js";
import { createChannels } from "./channels.js";
import { createCustomerDialog } from "./customer.js";
import { askForKey, wireCloseButtons } from "./dialogs.js";
import { createEventsFeed } from "./events.js";
import { $, showText, whileBusy } from "./dom.js";
import { refreshAgo } from "./render.js";
import { followRun, loadLastRun, renderSummary } from "./summary.js";
import { createTable } from "./table.js";
import { createSettings } from "./settings.js";
import { createTenantForm } from "./tenant-form.js";
import { exportConsentLinks, renderForesight } from "./expiry.js";

const report = (error) => showText($("notice"), error.message);

setKeyPrompt(askForKey);

const table = createTable({ onOpen: (customerId) => customer.open(customerId), onVerify: verifyRow });
const customer = createCustomerDialog({
  onChanged: changed,
  onDeleted: (customerId) => { table.remove(customerId); refreshCounts().catch(report); },
  onEdit: (view) => tenantForm.open(view),
  report,
});
const tenantForm = createTenantForm({
  onSaved: async (view, created) => {
    if (created) await update().catch(report);
    else changed(view);
    await customer.refresh().catch(report);
  },
});
const settings = createSettings({ report });
const channels = createChannels({ report });
const feed = createEventsFeed({ report, onOpen: (customerId) => customer.open(customerId) });
createActivity({ report });

async function update() {
  $("customers").setAttribute("aria-busy", "true");
  try {
    const summary = await table.reload();
    if (summary) {
      renderSummary(summary);
      renderForesight(summary);
    }
  } finally {
    $("customers").removeAttribute("aria-busy");
  }
}

async function refreshCounts() {
  const { summary } = await api("GET", "/api/status?top=1");
  renderSummary(summary);
  renderForesight(summary);
}

function changed(view) {
  table.update(view);
  refreshCounts().catch(report);
  feed.load().catch(report); // a result may have made an event
}

async function verifyRow(customerId, button) {
  const hadFocus = document.activeElement === button;
  button.firstChild.textContent = "Verifying...";
  await whileBusy(button, async () => changed(await api("POST", `/api/status/${id(customerId)}/verify`)))
    .catch(report);
  button.firstChild.textContent = "Verify now"; // when the row was not replaced (the call failed)
  if (hadFocus) table.focusRow(customerId, "verify");
}

async function reloadAll() {
  showText($("notice"), "");
  const [, run] = await Promise.all([update(), loadLastRun(), settings.load(), customer.refresh(), feed.load(),
    channels.load()]);
  return run;
}

// Follows the run `start` gives until it ends, with Verify All disabled: the API would answer the same run.
function follow(start) {
  return whileBusy($("verify-all"), async () => {
    await followRun(await start(), report);
    await reloadAll(); // the run changed every status: show them
  }).catch(report);
}

$("update").addEventListener("click", (event) => whileBusy(event.currentTarget, update).catch(report));
$("reload-all").addEventListener("click", (event) => whileBusy(event.currentTarget, reloadAll).catch(report));
$("verify-all").addEventListener("click", () => follow(() => api("POST", "/api/runs")));
$("load-more").addEventListener("click", (event) => whileBusy(event.currentTarget, () => table.more()).catch(report));
$("add-customer").addEventListener("click", () => tenantForm.open(null));
$("export-consent").addEventListener("click", (event) => whileBusy(event.currentTarget, () => exportConsentLinks({
  scope: $("export-scope").value, format: $("export-format").value, shownIds: () => table.shownIds() })).catch(report));

$("filters").addEventListener("submit", (event) => event.preventDefault());
for (const select of [$("filter-status"), $("filter-method"), $("filter-expiring")]) {
  select.addEventListener("change", () => {
    table.setFilters({ status: $("filter-status").value, method: $("filter-method").value,
      expiring: $("filter-expiring").value });
    update().catch(report);
  });
}
let searching = 0;
$("search").addEventListener("input", () => {
  clearTimeout(searching);
  searching = setTimeout(() => table.search($("search").value), 150);
});

wireCloseButtons();
setInterval(refreshAgo, 30000);

whoIsSignedIn().then(showWho).finally(() => reloadAll()
  .then((run) => (run && run.running ? follow(() => run) : null)).catch(report));
