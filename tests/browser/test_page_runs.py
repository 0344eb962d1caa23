"""The page shows what a run lost: Verify All whose work keeps failing (the secret store cannot be read) ends
with its customers given up, and the page says so in the API's words, beside the last run."""
from __future__ import annotations

import json
import uuid

import requests

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
