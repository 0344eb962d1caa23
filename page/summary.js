// The counts by status, the last run, and a run's progress (Verify All) until it finishes.
import { api, id } from "./api.js";
import { $ } from "./dom.js";
import { TRIGGERS, count, fromNow, label, localTime } from "./format.js";

const POLL_MS = 1000;

export function renderSummary(summary) {
  $("count-total").textContent = String(summary.total);
  for (const status of ["succeeded", "failed", "notVerified"]) {
    $(`count-${status}`).textContent = String(summary.byStatus[status] ?? 0);
  }
}

function givenUp(run) {
  return run.recovery ? run.recovery.givenUp : 0;
}

function tally(run) {
  const by = run.byStatus;
  const lost = givenUp(run) ? `, ${givenUp(run)} given up` : "";
  return `${run.completed} of ${run.total} verified: succeeded ${by.succeeded}, failed ${by.failed}, ` +
    `not verified ${by.notVerified}${lost}`;
}

// What the run lost and did about it (work sent again, customers given up), in the API's words.
function renderRecovery(run) {
  const line = $("run-recovery");
  line.hidden = !(run && run.recovery);
  line.textContent = run && run.recovery ? run.recovery.message : "";
}

export function renderLastRun(run) {
  const line = $("last-run");
  renderRecovery(run);
  if (!run) {
    line.textContent = "Last run: none yet.";
    return;
  }
  const when = `${localTime(run.startedAt)} (${fromNow(run.startedAt)}), ${label(TRIGGERS, run.trigger)}`;
  const lost = givenUp(run) ? `, ${givenUp(run)} given up` : "";
  const done = `${count(run.total, "customer", "customers")}, ${run.byStatus.failed} failed${lost}`;
  line.textContent = run.running ? `Run in progress since ${when}; ${tally(run)}.`
    : run.finishedAt ? `Last run: ${when}; ${done}.`
    : `Last run: ${when}; it stopped making progress before it finished: ${tally(run)}.`;
}

export async function loadLastRun() {
  const { runs } = await api("GET", "/api/runs?top=1");
  renderLastRun(runs[0] || null);
  return runs[0] || null;
}

function showProgress(run) {
  $("run-progress").hidden = false;
  const bar = $("run-bar");
  bar.max = Math.max(run.total, 1);
  bar.value = Math.min(run.completed + givenUp(run), bar.max);
  renderRecovery(run);
  $("run-text").textContent = run.running ? `Verifying... ${tally(run)}.`
    : run.finishedAt ? `Verify All finished at ${localTime(run.finishedAt)}. ${tally(run)}.`
    : `Verify All stopped making progress before it finished. ${tally(run)}.`;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Polls the run while the API says it is running, showing its progress; `report` gets errors while polling
// (it keeps going).
export async function followRun(run, report) {
  showProgress(run);
  while (run.running) {
    await sleep(POLL_MS);
    try {
      run = await api("GET", `/api/runs/${id(run.runId)}`);
      showProgress(run);
    } catch (error) {
      report(error);
      if (error.status === 404 || error.status === 401) return run;
    }
  }
  renderLastRun(run);
  return run;
}
