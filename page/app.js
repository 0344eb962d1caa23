// The Authentication Status page: wires the parts together. Every datum comes from the API (openapi.yaml).
import { api, id } from "./api.js";
import { createCustomerDialog } from "./customer.js";
import { wireCloseButtons } from "./dialogs.js";
import { $, showText } from "./dom.js";
import { followRun, isRunning, loadLastRun, renderSummary } from "./summary.js";
import { createTable, refreshAgo } from "./table.js";
import { createSettings } from "./settings.js";
import { createTenantForm } from "./tenant-form.js";

const report = (error) => showText($("notice"), error.message);

// Runs `work` with `button` disabled (so a double click does not start it twice); failures go to the notice.
async function withButton(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    report(error);
  } finally {
    button.disabled = false;
  }
}

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

async function update() {
  $("customers").setAttribute("aria-busy", "true");
  try {
    const summary = await table.reload();
    if (summary) renderSummary(summary);
  } finally {
    $("customers").removeAttribute("aria-busy");
  }
}

async function refreshCounts() {
  renderSummary((await api("GET", "/api/status?top=1")).summary);
}

function changed(view) {
  table.update(view);
  refreshCounts().catch(report);
}

async function verifyRow(customerId, button) {
  const hadFocus = document.activeElement === button;
  await withButton(button, async () => {
    button.firstChild.textContent = "Verifying...";
    changed(await api("POST", `/api/status/${id(customerId)}/verify`));
  });
  button.firstChild.textContent = "Verify now"; // when the row was not replaced (the call failed)
  if (hadFocus) table.focusRow(customerId, "verify");
}

async function reloadAll() {
  showText($("notice"), "");
  const [, run] = await Promise.all([update(), loadLastRun(), settings.load(), customer.refresh()]);
  return run;
}

async function follow(run) {
  const button = $("verify-all");
  button.disabled = true;
  try {
    await followRun(run, report);
    await reloadAll(); // the run changed every status: show them
  } finally {
    button.disabled = false;
  }
}

$("update").addEventListener("click", (event) => withButton(event.currentTarget, update));
$("reload-all").addEventListener("click", (event) => withButton(event.currentTarget, reloadAll));
$("verify-all").addEventListener("click", async () => {
  try {
    await follow(await api("POST", "/api/runs"));
  } catch (error) {
    report(error);
  }
});
$("load-more").addEventListener("click", (event) => withButton(event.currentTarget, () => table.more()));
$("add-customer").addEventListener("click", () => tenantForm.open(null));

$("filters").addEventListener("submit", (event) => event.preventDefault());
for (const select of [$("filter-status"), $("filter-method")]) {
  select.addEventListener("change", () => {
    table.setFilters({ status: $("filter-status").value, method: $("filter-method").value });
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

reloadAll().then((run) => (isRunning(run) ? follow(run) : null)).catch(report);
