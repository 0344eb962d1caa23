"""Foresight end to end through the local host: Graph (the identity simulator's) read during verification for the
customer's own app, the provider's app in its own tenant and the GDAP listing; the view's expiry fields, the
expiringWithinDays filter, summary.expiring and the provider line; the bulk consent route as JSON, CSV and errors."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.conftest import app_on_own_azurite, identity_env
from tools.identity_sim import AppRegistration, ClientSecret, DelegatedAdminRelationship, Tenant, User

pytestmark = pytest.mark.e2e

PROVIDER, APP, BLIND_APP = ("f1f1f1f1-3434-4545-8656-787878787878", "f2f2f2f2-cdcd-4efe-8a0a-b1b1b1b1b1b1",
                            "f3f3f3f3-cdcd-4efe-8a0a-b1b1b1b1b1b1")
PROVIDER_SECRET, APP_SECRET, BLIND_SECRET, PASSWORD = ("Fp1-provider-secret", "Fa2-app-secret", "Fb3-app-secret",
                                                       "Fore-Good-Pass-7")
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    tag = uuid.uuid4().hex[:6]
    partner, app_tenant, pw_tenant = (Tenant.named(f"fore{name}{tag}") for name in ("partner", "app", "pw"))
    for tenant in (partner, app_tenant, pw_tenant):
        identity.add_tenant(tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    ends = {"app": now + timedelta(days=5), "provider": now + timedelta(days=40), "gdap": now + timedelta(days=20)}
    identity.add_app(AppRegistration(
        client_id=PROVIDER, home_tenant=partner.id,
        secrets=(ClientSecret(PROVIDER_SECRET, expires_at=ends["provider"]),),
        roles={"*": ("Application.Read.All", "DelegatedAdminRelationship.Read.All")}))
    identity.add_app(AppRegistration(client_id=APP, home_tenant=app_tenant.id,
                                     secrets=(ClientSecret(APP_SECRET, expires_at=ends["app"]),),
                                     roles={"*": ("User.Read.All", "Application.Read.All")}))
    identity.add_app(AppRegistration(client_id=BLIND_APP, home_tenant=app_tenant.id,
                                     secrets=(ClientSecret(BLIND_SECRET),), roles={"*": ("User.Read.All",)}))
    identity.add_user(User(upn=f"admin@{pw_tenant.default_domain}", password=PASSWORD))
    identity.add_relationship(partner.id, DelegatedAdminRelationship(
        pw_tenant.id, ends["gdap"], roles=(GLOBAL_ADMINISTRATOR,), auto_extend="P180D"))
    env = {**identity_env(identity), "GRAPH_ENDPOINT": identity.graph_endpoint, "PROVIDER_TENANT_ID": partner.id,
           "GDAP_CHECK": "true"}
    with app_on_own_azurite(tmp_path_factory.mktemp("foresight"), env) as app:
        put = lambda path, body: requests.put(app.url(path), json=body, timeout=60)  # noqa: E731
        assert put("/api/settings", {"clientId": PROVIDER, "clientSecret": PROVIDER_SECRET,
                                     "redirectUrl": "http://localhost:7071/authenticate/OAuth2Callback"}).ok
        assert put("/api/tenants/app-5d", {"tenantId": app_tenant.id, "authenticationMethod": "application",
                                            "applicationId": APP, "applicationSecret": APP_SECRET}).ok
        assert put("/api/tenants/app-blind", {
            "tenantId": app_tenant.id, "authenticationMethod": "application", "applicationId": BLIND_APP,
            "applicationSecret": BLIND_SECRET, "applicationSecretExpiresAt": iso(now + timedelta(days=100))}).ok
        assert put("/api/tenants/pw-gdap", {"tenantId": pw_tenant.id, "authenticationMethod": "password",
                                             "m365Email": f"admin@{pw_tenant.default_domain}",
                                             "password": PASSWORD}).ok
        for cid in ("app-5d", "app-blind", "pw-gdap"):
            answer = requests.post(app.url(f"/api/status/{cid}/verify"), timeout=60)
            assert answer.status_code == 200, answer.text
        yield app, ends


def test_each_view_says_what_fails_first_and_from_where(world):
    app, ends = world
    views = {item["customerId"]: item for item in requests.get(app.url("/api/status"), timeout=30).json()["tenants"]}
    assert views["app-5d"]["expiry"] == {"what": "clientSecret", "source": "graph", "at": iso(ends["app"])}
    assert views["app-5d"]["expiresAt"] == iso(ends["app"])
    blind = views["app-blind"]  # its app may not read itself in Graph: the operator's date, and why
    assert blind["expiry"]["source"] == "operator"
    gdap = views["pw-gdap"]["expiry"]  # it holds Global Administrator: it ends, whatever its autoExtendDuration
    assert (gdap["what"], gdap["source"], gdap["at"], gdap["reason"]) == (
        "gdapRelationship", "graph", iso(ends["gdap"]), "holdsGlobalAdministrator")
    assert gdap["hint"].startswith("The delegated admin relationship holds Global Administrator")
    assert views["pw-gdap"]["retirement"]["hint"].startswith("Move this customer to token authentication")


def test_the_filter_and_the_summary(world):
    app, ends = world
    week = requests.get(app.url("/api/status"), params={"expiringWithinDays": "7"}, timeout=30).json()
    assert [item["customerId"] for item in week["tenants"]] == ["app-5d"]
    assert week["summary"]["expiring"] == {"within7Days": 1, "within30Days": 2}
    assert week["summary"]["providerClientSecret"] == {
        "what": "providerClientSecret", "source": "graph", "at": iso(ends["provider"])}
    bad = requests.get(app.url("/api/status"), params={"expiringWithinDays": "-3"}, timeout=30)
    assert (bad.status_code, bad.json()["error"]["target"]) == (400, "expiringWithinDays")


def test_each_connection_expiring_event_names_the_expiry_and_band_that_made_it(world):
    app, ends = world
    events = requests.get(app.url("/api/events"), params={"type": "connectionExpiring"}, timeout=30).json()["events"]
    assert sorted((e["customerId"], e["expiry"], e["withinDays"]) for e in events) == [
        ("app-5d", {"what": "clientSecret", "source": "graph", "at": iso(ends["app"])}, 7),
        ("pw-gdap", {"what": "gdapRelationship", "source": "graph", "at": iso(ends["gdap"])}, 30)]


def test_bulk_consent_as_json_csv_and_errors(world):
    app, _ = world
    answer = requests.post(app.url("/api/consent"), json={"allPasswordCustomers": True}, timeout=30)
    assert answer.status_code == 200
    assert [item["customerId"] for item in answer.json()["links"]] == ["pw-gdap"]
    assert "/oauth2/v2.0/authorize?" in answer.json()["links"][0]["authorizationUrl"]
    exported = requests.post(app.url("/api/consent"), json={"customerIds": ["pw-gdap", "ghost"]},
                             headers={"Accept": "text/csv"}, timeout=30)
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(row["customerId"], row["error"].split(":")[0]) for row in rows] == [("pw-gdap", ""), ("ghost", "notFound")]
    refused = requests.post(app.url("/api/consent"), json={"customerIds": []}, timeout=30)
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalidField")
