"""Consent end to end through the local host and the identity platform simulator: an HTTP client follows the
Grant Consent link to the simulator's authorize (or admin-consent) endpoint, which redirects to the callback."""
from __future__ import annotations

import json
import threading
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.data.tables import TableServiceClient

from tests.e2e.conftest import identity_env, start_app
from tests.support.consent_world import apply_provider_settings, consenting_tenant, provider_app
from tests.support.openapi_check import check_response
from tools.azurite import start_azurite
from tools.identity_sim import AadstsError, Success, Tenant
from tools.processes import stop_process

pytestmark = pytest.mark.e2e

PROVIDER, PROVIDER_SECRET = "5a5a5a5a-6b6b-4c7c-8d8d-9e9e9e9e9e9e", "Consent-Provider-Secret-3"
ADMIN_PASSWORD = "Admin-Pass-Word-1"


def new_world(app, identity, *, by_domain: bool):
    """A customer reached by its admin's password (which works), in a tenant of its own; by_domain: its tenantId
    is the tenant's domain rather than its id."""
    tenant, admin = consenting_tenant(identity, "consent", password=ADMIN_PASSWORD)
    provider_app(identity, PROVIDER, PROVIDER_SECRET)
    apply_provider_settings(app, PROVIDER, PROVIDER_SECRET)
    customer = f"consent-{uuid.uuid4().hex[:8]}"
    body = {"tenantId": tenant.default_domain if by_domain else tenant.id, "authenticationMethod": "password",
            "m365Email": admin, "password": ADMIN_PASSWORD}
    assert requests.put(app.url(f"/api/tenants/{customer}"), json=body, timeout=30).status_code == 201
    return app, identity, tenant, admin, customer


@pytest.fixture
def world(app, identity):
    return new_world(app, identity, by_domain=False)


@pytest.fixture
def domain_world(app, identity):
    """A working customer known by its domain, and another tenant where the provider's app is installed too."""
    world = new_world(app, identity, by_domain=True)
    other = Tenant.named(f"other{uuid.uuid4().hex[:8]}")
    identity.add_tenant(other)
    return (*world, other)


def verified(app, customer) -> dict:
    answer = requests.post(app.url(f"/api/status/{customer}/verify"), timeout=60)
    assert answer.status_code == 200 and answer.json()["lastVerificationStatus"] == "succeeded", answer.text
    return answer.json()


def refresh_tokens(app) -> set[str]:
    """Every refresh token value in the local secret store."""
    stored = json.loads(app.secrets_file.read_text())
    return {v["value"] for name, versions in stored.items() if name.endswith("-refresh-token")
            for v in versions.values()}


def connection(view) -> dict:
    """What a consent that is not granted leaves as it was."""
    keep = ("tenantId", "authenticationMethod", "m365Email", "secretsConfigured", "whenLastVerified",
            "lastVerificationStatus", "lastVerificationReason", "lastVerificationMessage")
    return {key: view[key] for key in keep}


def link(app, customer, **body):
    response = requests.post(app.url(f"/api/consent/{customer}"), json=body or None, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["authorizationUrl"]


def to_callback(identity, url) -> str:
    """What the admin's browser does: the authorize page answers a redirect to the callback."""
    answer = requests.get(url, allow_redirects=False, timeout=30, verify=str(identity.ca_bundle_path))
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["Location"]


def view(app, customer):
    """The tenant view, as openapi.yaml describes it (lastConsent among the rest)."""
    answer = requests.get(app.url(f"/api/tenants/{customer}"), timeout=30)
    check_response("/api/tenants/{customerId}", "get", answer.status_code, answer.content,
                   answer.headers.get("Content-Type"))
    return answer.json()


def test_token_consent_end_to_end(world):
    app, identity, tenant, admin, customer = world
    url = link(app, customer, loginHint=admin)
    assert view(app, customer)["pendingConsent"]["method"] == "token"
    callback = to_callback(identity, url)
    page = requests.get(callback, timeout=60)
    assert page.status_code == 200 and "Consent granted" in page.text and admin in page.text
    assert page.headers["Content-Type"].startswith("text/html") and page.headers["Referrer-Policy"] == "no-referrer"
    after = view(app, customer)
    assert (after["authenticationMethod"], after["m365Email"], after["lastVerificationStatus"]) == (
        "token", admin, "succeeded")
    assert "refreshToken" in after["secretsConfigured"] and after["pendingConsent"] is None
    replay = requests.get(callback, timeout=30)
    assert replay.status_code == 400 and "used already" in replay.text
    code = dict(p.split("=", 1) for p in callback.split("?", 1)[1].split("&"))["code"]
    stored = json.loads(app.secrets_file.read_text())
    refresh_tokens = [v["value"] for name, versions in stored.items() if name.endswith("-refresh-token")
                      for v in versions.values()]
    assert refresh_tokens, "the refresh token never reached the secret store"
    service = TableServiceClient.from_connection_string(app.connection_string)
    tables = "\n".join(json.dumps(dict(e), default=str) for t in service.list_tables()
                       for e in service.get_table_client(t.name).list_entities())
    for where in (page.text, replay.text, app.log_text(), tables, json.dumps(view(app, customer))):
        for secret in (code, PROVIDER_SECRET, *refresh_tokens):
            assert secret not in where


def test_admin_consent_end_to_end(world):
    app, identity, tenant, _, customer = world
    callback = to_callback(identity, link(app, customer, method="application"))
    page = requests.get(callback, timeout=60)
    assert page.status_code == 200, page.text
    after = view(app, customer)
    assert (after["authenticationMethod"], after["lastVerificationStatus"]) == ("application", "succeeded")


def test_one_state_redeemed_by_two_callbacks_at_once_succeeds_once(world):
    app, identity, _, _, customer = world
    callback = to_callback(identity, link(app, customer))
    start, answers = threading.Barrier(2), []

    def hit():
        start.wait(timeout=30)
        answers.append(requests.get(callback, timeout=60).status_code)

    threads = [threading.Thread(target=hit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert sorted(answers) == [200, 400]


def test_a_declined_consent_shows_the_escaped_description_and_keeps_the_connection(world):
    app, identity, tenant, _, customer = world
    before = verified(app, customer)
    identity.script(tenant.id, AadstsError(65004, description="<script>alert(1)</script> declined"),
                    endpoint="authorize", times=1)
    page = requests.get(to_callback(identity, link(app, customer)), timeout=60)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    after = requests.get(app.url(f"/api/status/{customer}"), timeout=30).json()
    assert connection(after) == connection(before) and after["pendingConsent"] is None
    last = after["lastConsent"]
    assert (last["outcome"], last["method"]) == ("declined", "token")
    assert last["message"] == "AADSTS65004: <script>alert(1)</script> declined"  # the first line, no trace ids
    assert [row["status"] for row in after["history"]] == ["succeeded"]  # the history holds verifications only


def test_a_forged_error_from_whoever_holds_the_link_does_not_break_the_connection(world):
    app, identity, _, _, customer = world
    before = verified(app, customer)
    state = parse_qs(urlsplit(link(app, customer)).query)["state"][0]
    text = "Your connection is broken: call +1 555 0100 " + "x" * 1000
    page = requests.get(app.url("/authenticate/OAuth2Callback"), timeout=30, params={
        "state": state, "error": "access_denied", "error_description": text})
    assert page.status_code == 200
    after = view(app, customer)
    assert connection(after) == connection(before) and after["lastVerificationStatus"] == "succeeded"
    assert after["lastConsent"]["outcome"] == "declined" and after["lastConsent"]["message"] == text[:500]
    assert after["pendingConsent"] is None


def test_a_code_that_cannot_be_redeemed_keeps_the_connection(world):
    app, identity, tenant, _, customer = world
    before = verified(app, customer)
    identity.script(tenant.id, AadstsError(70008), endpoint="token", grant_type="authorization_code", times=1)
    page = requests.get(to_callback(identity, link(app, customer)), timeout=60)
    assert page.status_code == 400
    after = view(app, customer)
    assert connection(after) == connection(before) and after["pendingConsent"] is None
    assert after["lastConsent"]["outcome"] == "failed" and after["lastConsent"]["message"].startswith("AADSTS70008")


def test_a_domain_customer_is_not_moved_to_another_tenant_by_admin_consent(domain_world):
    app, identity, tenant, _, customer, other = domain_world
    before = verified(app, customer)
    # The admin consents in another tenant where the provider's app also is: Microsoft answers that tenant.
    identity.script(tenant.id, Success(tid=other.id), endpoint="adminconsent", times=1)
    callback = to_callback(identity, link(app, customer, method="application"))
    assert parse_qs(urlsplit(callback).query)["tenant"] == [other.id]
    page = requests.get(callback, timeout=60)
    assert page.status_code == 400 and "Nothing was stored" in page.text
    after = view(app, customer)
    assert connection(after) == connection(before) and after["tenantId"] == tenant.default_domain
    assert after["pendingConsent"] is None and after["lastConsent"]["outcome"] == "failed"
    assert identity.requests_for(other.id, endpoint="token") == []  # refused before any token for it


def test_a_domain_customer_is_not_moved_to_another_tenant_by_an_id_token(domain_world):
    app, identity, tenant, admin, customer, other = domain_world
    before, kept = verified(app, customer), refresh_tokens(app)
    identity.script(tenant.id, Success(tid=other.id), endpoint="token", grant_type="authorization_code", times=1)
    page = requests.get(to_callback(identity, link(app, customer, loginHint=admin)), timeout=60)
    assert page.status_code == 400 and other.id in page.text
    after = view(app, customer)
    assert connection(after) == connection(before) and refresh_tokens(app) == kept  # the new one was not stored
    assert after["pendingConsent"] is None and after["lastConsent"]["outcome"] == "failed"


@pytest.mark.parametrize("method", ["token", "application"])
def test_a_domain_customer_consenting_in_its_own_tenant_is_bound_to_its_tenant_id(domain_world, method):
    app, identity, tenant, admin, customer, _ = domain_world
    page = requests.get(to_callback(identity, link(app, customer, method=method)), timeout=60)
    assert page.status_code == 200, page.text
    after = view(app, customer)
    assert (after["tenantId"], after["authenticationMethod"], after["lastVerificationStatus"]) == (
        tenant.id, method, "succeeded")
    assert (after["lastConsent"]["outcome"], after["lastConsent"]["method"]) == ("granted", method)
    discovered = identity.requests_for(tenant.default_domain, endpoint="discovery")
    assert discovered and all(r.status == 200 for r in discovered)


def test_no_link_is_handed_out_for_a_domain_the_platform_does_not_know(world):
    app, _, _, _, _ = world
    body = {"tenantId": f"nosuch{uuid.uuid4().hex[:8]}.example", "authenticationMethod": "token"}
    assert requests.put(app.url("/api/tenants/unknown-domain"), json=body, timeout=30).status_code in (200, 201)
    for method in ("token", "application"):
        answer = requests.post(app.url("/api/consent/unknown-domain"), json={"method": method}, timeout=30)
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "invalidTenantId"
    assert view(app, "unknown-domain")["pendingConsent"] is None


@pytest.mark.parametrize("query", ["", "?state=forged", "?code=abc", "?error=access_denied"])
def test_callbacks_without_a_valid_state_answer_400_and_change_nothing(world, query):
    app, _, _, _, customer = world
    before = view(app, customer)
    page = requests.get(app.url("/authenticate/OAuth2Callback" + query), timeout=30)
    assert page.status_code == 400 and page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert view(app, customer) == before


def test_a_valid_state_with_neither_code_nor_error_and_a_huge_form(world):
    app, identity, _, _, customer = world
    callback = to_callback(identity, link(app, customer))
    state = callback.split("state=", 1)[1].split("&", 1)[0]
    assert requests.get(app.url(f"/authenticate/OAuth2Callback?state={state}"), timeout=30).status_code == 400
    big = requests.post(app.url("/authenticate/OAuth2Callback"), data={"state": "x" * 70000}, timeout=30)
    assert big.status_code == 413


@pytest.fixture(scope="module")
def fresh_app(identity, tmp_path_factory):
    """An app on an Azurite of its own, so its settings start empty whatever the other tests applied."""
    azurite = start_azurite()
    try:
        running = start_app(tmp_path_factory.mktemp("fresh"), azurite.connection_string, identity_env(identity))
        try:
            yield running
        finally:
            stop_process(running.process)
    finally:
        azurite.stop()


def test_consent_is_refused_with_each_409_until_the_settings_are_complete(fresh_app, identity):
    app = fresh_app
    tenant = Tenant.named(f"settings{uuid.uuid4().hex[:8]}")
    identity.add_tenant(tenant)
    assert requests.put(app.url("/api/tenants/c"), json={"tenantId": tenant.id, "authenticationMethod": "token"},
                        timeout=30).status_code == 201

    def refusal():
        response = requests.post(app.url("/api/consent/c"), timeout=30)
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert "Settings" in error["message"]
        return error["code"]

    assert refusal() == "clientIdNotConfigured"
    settings = {"clientId": PROVIDER, "redirectUrl": app.url("/authenticate/OAuth2Callback")}
    assert requests.put(app.url("/api/settings"), json=settings, timeout=30).status_code == 200
    assert refusal() == "clientSecretNotConfigured"
    settings["clientSecret"] = PROVIDER_SECRET
    assert requests.put(app.url("/api/settings"), json=settings, timeout=30).status_code == 200
    assert requests.post(app.url("/api/consent/c"), timeout=30).status_code == 200
