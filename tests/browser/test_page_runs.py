"""Runs in the page: one started long ago that still makes progress is followed as running (the API says
`running`; the page judges nothing itself), and what a run lost: Verify All whose work keeps failing (the secret
store cannot be read) ends with its customers given up, and the page says so in the API's words."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import requests

from shared.adapters.storage_clients import table_service_from_config
from shared.adapters.table_runs import TableRunStore
from shared.config import StorageConfig
from shared.domain.models import Status
from shared.domain.runs import STALE_AFTER, Run, Trigger
from tests.browser.conftest import running_app
from tests.e2e.conftest import REPO
from tools.identity_sim import AppRegistration, ClientSecret, Tenant

APP, APP_SECRET = "7a7a7a7a-1111-4222-8333-966666666666", "Page-Runs-Secret-1"


def test_a_run_that_gave_customers_up_says_so_and_why(identity, open_page, tmp_path):
    host = json.loads((REPO / "host.json").read_text(encoding="utf-8"))
    host["extensions"]["queues"]["visibilityTimeout"] = "00:00:01"  # five deliveries in seconds, not minutes
    (tmp_path / "host.json").write_text(json.dumps(host), encoding="utf-8")
    tenant = Tenant.named(f"pageruns{uuid.uuid4().hex[:6]}")
    identity.add_tenant(tenant)
    identity.add_app(AppRegistration(client_id=APP, secrets=(ClientSecret(APP_SECRET),),
                                     roles={"*": ("User.Read.All",)}))
    with running_app(tmp_path, identity, ["--host-json", str(tmp_path / "host.json")]) as app:
        for customer_id in ("kilo-app", "lima-app"):
            body = {"tenantId": tenant.id, "authenticationMethod": "application", "applicationId": APP,
                    "applicationSecret": APP_SECRET}
            assert requests.put(app.url(f"/api/tenants/{customer_id}"), json=body, timeout=30).status_code == 201
        page = open_page(app)
        assert not page.by_id("run-recovery").is_displayed()
        app.secrets_file.write_text("[]", encoding="utf-8")  # every chunk fails until the host gives it up
        page.by_id("verify-all").click()
        done = page.wait_text("run-text", "Verify All finished at", timeout=150)
        assert "0 of 2 verified" in done and "2 given up" in done
        recovery = page.wait_visible("run-recovery").text
        assert "work failed on every delivery" in recovery and "2 customers were given up on" in recovery
        assert "2 given up" in page.wait_text("last-run", "Last run:")
        page.screenshot("page-run-given-up")
        assert page.console_errors() == []


RENDER_STOPPED = """
const [runId, done] = arguments;
Promise.all([import("/page/api.js"), import("/page/summary.js")]).then(async ([{ api }, { renderLastRun }]) => {
  renderLastRun({ ...(await api("GET", `/api/runs/${runId}`)), running: false });
  done(document.getElementById("last-run").textContent);
}, (error) => done(String(error)));
"""


def test_a_run_started_long_ago_that_still_makes_progress_is_followed_as_running(identity, open_page, tmp_path):
    with running_app(tmp_path, identity) as app:
        # A timer run started two hours ago (longer than STALE_AFTER); its run row is written now, its progress.
        runs = TableRunStore(table_service_from_config(StorageConfig(connection_string=app.connection_string)))
        started = datetime.now(UTC) - 4 * STALE_AFTER
        run, new = runs.start(Run(f"{started:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:16]}", Trigger.TIMER, started, None,
                                  0, 0, dict.fromkeys(Status, 0)), stale_after=STALE_AFTER)
        assert new and datetime.now(UTC) - run.last_progress_at < timedelta(minutes=5)
        page = open_page(app)
        assert "Verifying... 0 of 0 verified" in page.wait_text("run-text", "Verifying...")
        assert page.by_id("last-run").text.startswith("Run in progress since")
        assert not page.by_id("verify-all").is_enabled()  # the API would answer this run
        # Had it made no progress for STALE_AFTER, the API would say `running: false`: shown as stopped, not as
        # in progress (this run's own answer, with `running` as it would then be).
        stopped = page.driver.execute_async_script(RENDER_STOPPED, run.run_id)
        assert stopped.startswith("Last run: ") and "stopped making progress before it finished: 0 of 0" in stopped
        # It finishes: the page, following it, says so and lets Verify All start the next.
        assert runs.enrol(run.run_id, [])
        runs.mark_fanned_out(run.run_id)
        assert runs.finish(run.run_id) is not None
        page.wait_text("run-text", "Verify All finished at")
        page.wait(lambda: page.by_id("verify-all").is_enabled(), "Verify All enabled again")
        assert page.wait_text("last-run", "Last run:").startswith("Last run:")
        assert page.console_errors() == []
