"""The identity simulator's Microsoft Graph (an application's credentials, a partner's delegated admin relationships)
over real HTTPS, with tokens the simulator itself issues; and the delegated scopes (`scp`) a test can script.

The simulator's date is an injected clock, so relationships end and secrets expire when a test says so."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tools.identity_sim import (
    GLOBAL_ADMINISTRATOR,
    AppRegistration,
    CertificateCredential,
    ClientSecret,
    DelegatedAdminRelationship,
    GraphError,
    IdentitySimulator,
    ServerError,
    Success,
    Tenant,
    Throttle,
    User,
    decode_claims,
    load_scenario,
)

pytestmark = pytest.mark.integration

PARTNER = Tenant(id="10000000-0000-4000-8000-000000000001", domains=("partner.onmicrosoft.com",), name="Partner")
CONTOSO = Tenant(id="20000000-0000-4000-8000-000000000002", domains=("contoso.onmicrosoft.com",), name="Contoso")
FABRIKAM = Tenant(id="30000000-0000-4000-8000-000000000003", domains=("fabrikam.onmicrosoft.com",))
PROVIDER_APP, CUSTOMER_APP = "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"
PROVIDER_SECRET, CUSTOMER_SECRET = "Prov-secret-value-1", "Cust-secret-value-2"
ADMIN = "admin@contoso.onmicrosoft.com"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def sim(tmp_path, clock) -> Iterator[IdentitySimulator]:
    with IdentitySimulator(ca_dir=tmp_path / "ca", clock=clock) as simulator:
        for tenant in (PARTNER, CONTOSO, FABRIKAM):
            simulator.add_tenant(tenant)
        simulator.add_user(User(upn=ADMIN, password="pw"))
        simulator.add_app(AppRegistration(
            client_id=PROVIDER_APP, home_tenant=PARTNER.id, name="Provider app",
            secrets=(ClientSecret(PROVIDER_SECRET, expires_at=NOW + timedelta(days=200)),),
            roles={"*": ("User.Read.All",),
                   PARTNER.id: ("DelegatedAdminRelationship.Read.All", "Application.Read.All")},
            delegated_scopes=("User.Read", "Application.Read.All", "openid", "profile", "offline_access")))
        simulator.add_app(AppRegistration(
            client_id=CUSTOMER_APP, home_tenant=CONTOSO.id, name="Contoso's own app", tenants=(CONTOSO.id,),
            secrets=(ClientSecret(CUSTOMER_SECRET, expires_at=NOW + timedelta(days=5, microseconds=314826),
                                  key_id="c0000000-0000-4000-8000-00000000000c", display_name="tas",
                                  starts_at=NOW - timedelta(days=360)),
                     ClientSecret("Other-secret", expires_at=None)),
            certificates=(CertificateCredential(expires_at=NOW + timedelta(days=40), thumbprint="AB12",
                                                key_id="d0000000-0000-4000-8000-00000000000d"),),
            roles={"*": ("User.Read.All", "Application.Read.All")}))
        yield simulator


def app_token(sim: IdentitySimulator, tenant: str, client_id: str = CUSTOMER_APP, secret: str = CUSTOMER_SECRET,
              scope: str = GRAPH_DEFAULT) -> str:
    answer = sim.session(timeout=10).post(f"{sim.authority_host}/{tenant}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": scope})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def user_token(sim: IdentitySimulator, *, scope: str = f"{GRAPH_DEFAULT} offline_access",
               client_id: str = PROVIDER_APP) -> dict[str, Any]:
    answer = sim.session(timeout=10).post(f"{sim.authority_host}/{CONTOSO.id}/oauth2/v2.0/token", data={
        "grant_type": "password", "client_id": client_id, "client_secret": PROVIDER_SECRET, "scope": scope,
        "username": ADMIN, "password": "pw"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def graph(sim: IdentitySimulator, path: str, token: str | None, **headers: str) -> requests.Response:
    url = path if path.startswith("https://") else f"{sim.graph_endpoint}/v1.0/{path}"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return sim.session(timeout=10).get(url, headers=headers)


CREDENTIALS = "applications(appId='{}')?$select=passwordCredentials,keyCredentials"


# --- applications(appId=...) ------------------------------------------------------------------------------------

def test_an_application_answers_its_credentials_in_graphs_shape(sim):
    answer = graph(sim, CREDENTIALS.format(CUSTOMER_APP), app_token(sim, CONTOSO.id))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"@odata.context", "passwordCredentials", "keyCredentials"}
    first, other = body["passwordCredentials"]
    assert first == {"customKeyIdentifier": None, "displayName": "tas", "endDateTime": "2026-03-06T12:00:00.3148260Z",
                     "hint": "Cus", "keyId": "c0000000-0000-4000-8000-00000000000c", "secretText": None,
                     "startDateTime": "2025-03-06T12:00:00Z"}
    assert other["hint"] == "Oth" and other["endDateTime"] is None and other["secretText"] is None
    (certificate,) = body["keyCredentials"]
    assert certificate["keyId"] == "d0000000-0000-4000-8000-00000000000d"
    assert certificate["endDateTime"] == "2026-04-10T12:00:00Z"
    assert certificate["customKeyIdentifier"] == "AB12" and certificate["type"] == "AsymmetricX509Cert"
    assert CUSTOMER_SECRET not in answer.text


def test_without_select_the_application_has_its_identity_too(sim):
    body = graph(sim, f"applications(appId='{CUSTOMER_APP}')", app_token(sim, CONTOSO.id)).json()

    assert body["appId"] == CUSTOMER_APP and body["displayName"] == "Contoso's own app"
    assert len(body["passwordCredentials"]) == 2


def test_an_unknown_property_in_select_is_a_400(sim):
    answer = graph(sim, f"applications(appId='{CUSTOMER_APP}')?$select=secrets", app_token(sim, CONTOSO.id))

    assert answer.status_code == 400 and answer.json()["error"]["code"] == "Request_BadRequest"


def test_roles_without_application_read_all_are_refused_with_graphs_403(sim):
    sim.set_roles(CUSTOMER_APP, CONTOSO.id, ["User.Read.All"])

    answer = graph(sim, CREDENTIALS.format(CUSTOMER_APP), app_token(sim, CONTOSO.id),
                   **{"client-request-id": "my-request"})

    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "Authorization_RequestDenied"
    assert error["message"] == "Insufficient privileges to complete the operation."
    assert error["innerError"]["client-request-id"] == "my-request" and error["innerError"]["request-id"]


@pytest.mark.parametrize("app_id, tenant", [
    ("eeeeeeee-0000-4000-8000-00000000000e", CONTOSO.id),  # no such app
    (PROVIDER_APP, CONTOSO.id),  # the provider's multi-tenant app has only a service principal in the customer's
])
def test_an_application_not_in_the_tokens_tenant_is_a_404(sim, app_id, tenant):
    answer = graph(sim, CREDENTIALS.format(app_id), app_token(sim, tenant))

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "Request_ResourceNotFound"


def test_the_provider_reads_its_own_application_in_its_own_tenant(sim):
    token = app_token(sim, PARTNER.id, client_id=PROVIDER_APP, secret=PROVIDER_SECRET)

    body = graph(sim, CREDENTIALS.format(PROVIDER_APP), token).json()

    assert [credential["hint"] for credential in body["passwordCredentials"]] == ["Pro"]


def test_a_delegated_token_needs_the_scope_in_scp(sim):
    sim.set_delegated_grant(PROVIDER_APP, CONTOSO.id, ["User.Read", "Application.Read.All"])
    sim.add_app(AppRegistration(client_id=CUSTOMER_APP, home_tenant=CONTOSO.id))  # no secrets needed to be read
    allowed = graph(sim, CREDENTIALS.format(CUSTOMER_APP), user_token(sim)["access_token"])
    sim.set_delegated_grant(PROVIDER_APP, CONTOSO.id, ["User.Read"])
    refused = graph(sim, CREDENTIALS.format(CUSTOMER_APP), user_token(sim)["access_token"])

    assert allowed.status_code == 200 and refused.status_code == 403


# --- tokens Graph does not accept ------------------------------------------------------------------------------

def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["Application.ReadWrite.All"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def test_graph_accepts_only_its_own_audience_and_the_simulators_signature(sim, tmp_path):
    with IdentitySimulator(ca_dir=tmp_path / "other") as other:
        other.add_tenant(CONTOSO)
        other.add_app(AppRegistration(client_id=CUSTOMER_APP, secrets=(ClientSecret(CUSTOMER_SECRET),),
                                      roles={"*": ("Application.Read.All",)}))
        foreign = app_token(other, CONTOSO.id)
    vault = app_token(sim, CONTOSO.id, scope="https://vault.azure.net/.default")
    cases = {"none": None, "foreign": foreign, "vault": vault, "tampered": _tampered(app_token(sim, CONTOSO.id)),
             "garbage": "not.a.token"}

    answers = {name: graph(sim, CREDENTIALS.format(CUSTOMER_APP), token) for name, token in cases.items()}

    for name, answer in answers.items():
        assert answer.status_code == 401, name
        assert answer.json()["error"]["code"] == "InvalidAuthenticationToken", name
        assert answer.headers["WWW-Authenticate"].startswith("Bearer"), name
    assert "audience" in answers["vault"].json()["error"]["message"]


def test_graph_takes_a_token_for_its_own_uri_as_the_app_asks_with_graph_endpoint_set_to_the_simulator(sim):
    token = app_token(sim, CONTOSO.id, scope=f"{sim.graph_endpoint}/.default")
    assert graph(sim, CREDENTIALS.format(CUSTOMER_APP), token).status_code == 200


# --- delegatedAdminRelationships ------------------------------------------------------------------------------

def add_relationships(sim: IdentitySimulator, count: int, **fields: Any) -> list[DelegatedAdminRelationship]:
    made = [DelegatedAdminRelationship(customer_tenant_id=f"40000000-0000-4000-8000-{n:012d}",
                                       ends_at=NOW + timedelta(days=n + 1), **fields) for n in range(count)]
    for relationship in made:
        sim.add_relationship(PARTNER.id, relationship)
    return made


def partner_token(sim: IdentitySimulator) -> str:
    return app_token(sim, PARTNER.id, client_id=PROVIDER_APP, secret=PROVIDER_SECRET)


RELATIONSHIPS = "tenantRelationships/delegatedAdminRelationships"


def test_relationships_come_in_pages_linked_by_next_link(sim):
    made = add_relationships(sim, 7)
    sim.set_graph_page_size(3)
    token = partner_token(sim)

    pages, url = [], RELATIONSHIPS
    while url:
        answer = graph(sim, url, token)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json()["value"])
        url = answer.json().get("@odata.nextLink")
        assert url is None or url.startswith(f"{sim.graph_endpoint}/v1.0/{RELATIONSHIPS}?")

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [item["id"] for page in pages for item in page] == [relationship.id for relationship in made]
    top = graph(sim, f"{RELATIONSHIPS}?$top=5", token).json()
    assert len(top["value"]) == 5 and "%24top=5" in top["@odata.nextLink"]


def test_a_relationship_has_graphs_shape(sim):
    sim.add_relationship(PARTNER.domains[0], DelegatedAdminRelationship(
        customer_tenant_id=CONTOSO.id, customer_name="Contoso", ends_at=NOW + timedelta(days=9),
        auto_extend="P180D", roles=("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", GLOBAL_ADMINISTRATOR)))

    (item,) = graph(sim, RELATIONSHIPS, partner_token(sim)).json()["value"]

    assert item["customer"] == {"tenantId": CONTOSO.id, "displayName": "Contoso"}
    assert item["status"] == "active" and item["autoExtendDuration"] == "P180D"
    assert item["endDateTime"] == "2026-03-10T12:00:00Z"
    assert {"roleDefinitionId": GLOBAL_ADMINISTRATOR} in item["accessDetails"]["unifiedRoles"]
    assert {"id", "displayName", "duration", "createdDateTime", "activatedDateTime", "@odata.etag"} <= set(item)


def test_every_status_is_listed_as_registered(sim):
    statuses = ["active", "expired", "terminated", "approvalPending", "terminationRequested", "expiring"]
    for status in statuses:
        sim.add_relationship(PARTNER.id, DelegatedAdminRelationship(customer_tenant_id=CONTOSO.id, status=status,
                                                                    ends_at=NOW + timedelta(days=1)))

    listed = graph(sim, RELATIONSHIPS, partner_token(sim)).json()["value"]

    assert [item["status"] for item in listed] == statuses


def test_a_partner_sees_only_its_own_relationships(sim):
    add_relationships(sim, 2)
    sim.add_app(AppRegistration(client_id=CUSTOMER_APP, secrets=(ClientSecret(CUSTOMER_SECRET),),
                                roles={"*": ("DelegatedAdminRelationship.Read.All",)}))

    assert graph(sim, RELATIONSHIPS, app_token(sim, CONTOSO.id)).json()["value"] == []


def test_relationships_need_the_delegated_admin_relationship_permission(sim):
    add_relationships(sim, 1)
    sim.set_roles(PROVIDER_APP, PARTNER.id, ["Application.Read.All"])

    answer = graph(sim, RELATIONSHIPS, partner_token(sim))

    assert answer.status_code == 403 and answer.json()["error"]["code"] == "Authorization_RequestDenied"


@pytest.mark.parametrize("query", ["$top=0", "$top=301", "$skiptoken=nonsense", "$top=x"])
def test_a_bad_page_request_is_a_400(sim, query):
    assert graph(sim, f"{RELATIONSHIPS}?{query}", partner_token(sim)).status_code == 400


@pytest.mark.parametrize("auto_extend, roles, status, days_left", [
    ("PT0S", (), "expired", None),
    ("P0D", (), "expired", None),
    ("P180D", (GLOBAL_ADMINISTRATOR,), "expired", None),  # Global Administrator never auto-extends
    ("P180D", (), "active", 179),  # rolled forward by 180 days from a day ago
])
def test_at_the_simulators_date_an_ended_relationship_expires_or_extends(sim, clock, auto_extend, roles, status,
                                                                       days_left):
    sim.add_relationship(PARTNER.id, DelegatedAdminRelationship(customer_tenant_id=CONTOSO.id, ends_at=NOW,
                                                                auto_extend=auto_extend, roles=roles))
    token = partner_token(sim)
    clock.now = NOW + timedelta(days=1)

    (item,) = graph(sim, RELATIONSHIPS, token).json()["value"]

    assert item["status"] == status
    if days_left is not None:
        ends = datetime.fromisoformat(item["endDateTime"])
        assert ends - clock.now == timedelta(days=days_left)


def test_a_secret_expires_at_the_token_endpoint_by_the_simulators_date(sim, clock):
    app_token(sim, CONTOSO.id)
    clock.now = NOW + timedelta(days=6)

    answer = sim.session(timeout=10).post(f"{sim.authority_host}/{CONTOSO.id}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": CUSTOMER_APP, "client_secret": CUSTOMER_SECRET,
        "scope": GRAPH_DEFAULT})

    assert answer.status_code == 401 and answer.json()["error_codes"] == [7000222]


# --- scripted Graph outcomes and the recording ---------------------------------------------------------------------

def test_scripted_throttle_server_error_and_graph_error_answer_in_graphs_shape(sim):
    token = app_token(sim, CONTOSO.id)
    sim.script(CONTOSO.domains[0], Throttle(retry_after=7), endpoint="graph", times=1)
    sim.script(CONTOSO.id, ServerError(503), endpoint="graph", times=1)
    sim.script(None, GraphError(404, "Request_ResourceNotFound", "gone"), endpoint="graph", client_id=CUSTOMER_APP,
               times=1)

    answers = [graph(sim, CREDENTIALS.format(CUSTOMER_APP), token) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [429, 503, 404, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert [answer.json()["error"]["code"] for answer in answers[:3]] == [
        "TooManyRequests", "serviceNotAvailable", "Request_ResourceNotFound"]


def test_a_graph_script_for_another_tenant_leaves_this_one_alone(sim):
    sim.script(FABRIKAM.id, ServerError(500), endpoint="graph")

    assert graph(sim, CREDENTIALS.format(CUSTOMER_APP), app_token(sim, CONTOSO.id)).status_code == 200


def test_graph_requests_are_recorded_by_the_tokens_tenant_and_app_without_the_token(sim):
    token = app_token(sim, CONTOSO.id)
    sim.clear_recording()

    graph(sim, CREDENTIALS.format(CUSTOMER_APP), token)

    (recorded,) = sim.requests_for(CONTOSO.id, endpoint="graph")
    assert recorded.client_id == CUSTOMER_APP and recorded.status == 200 and recorded.method == "GET"
    assert sim.counters()["endpoint:graph"] == 1
    assert token not in repr(sim.requests) and token.split(".")[2] not in repr(sim.requests)


# --- delegated scopes: what scp holds ------------------------------------------------------------------------------

def test_scp_holds_the_scopes_granted_in_the_tenant_and_a_test_can_drop_one(sim):
    before = decode_claims(user_token(sim)["access_token"])["scp"].split()
    sim.set_delegated_grant(PROVIDER_APP, CONTOSO.domains[0], ["User.Read", "openid", "profile", "offline_access"])
    after = decode_claims(user_token(sim)["access_token"])["scp"].split()

    assert set(before) == {"User.Read", "Application.Read.All", "openid", "profile"}
    assert set(after) == {"User.Read", "openid", "profile"}
    assert ".default" not in " ".join(after) and "offline_access" not in after


def test_a_users_own_grant_wins_over_the_tenant_wide_one(sim):
    sim.set_delegated_grant(PROVIDER_APP, CONTOSO.id, ["User.Read"])
    sim.set_delegated_grant(PROVIDER_APP, CONTOSO.id, ["Mail.Read"], user=ADMIN)

    assert decode_claims(user_token(sim)["access_token"])["scp"] == "Mail.Read"


def test_a_named_scope_outside_the_grant_is_refused_with_65001(sim):
    sim.set_delegated_grant(PROVIDER_APP, CONTOSO.id, ["User.Read"])

    answer = sim.session(timeout=10).post(f"{sim.authority_host}/{CONTOSO.id}/oauth2/v2.0/token", data={
        "grant_type": "password", "client_id": PROVIDER_APP, "client_secret": PROVIDER_SECRET,
        "scope": "https://graph.microsoft.com/Application.Read.All", "username": ADMIN, "password": "pw"})

    assert answer.json()["error_codes"] == [65001]


def test_a_scripted_success_still_replaces_scp_for_one_user(sim):
    sim.script(CONTOSO.id, Success(scopes=("User.Read",)), user=ADMIN, times=1)

    assert decode_claims(user_token(sim)["access_token"])["scp"] == "User.Read"
    assert "Application.Read.All" in decode_claims(user_token(sim)["access_token"])["scp"]


# --- scenario file ---------------------------------------------------------------------------------------------

def test_a_scenario_registers_graph_data(tmp_path, clock):
    scenario = load_scenario({
        "tenants": [{"id": PARTNER.id, "domains": list(PARTNER.domains)},
                    {"id": CONTOSO.id, "domains": list(CONTOSO.domains)}],
        "users": [{"upn": ADMIN, "password": "pw"}],
        "apps": [{"client_id": PROVIDER_APP, "home_tenant": PARTNER.domains[0],
                  "secrets": [{"value": PROVIDER_SECRET, "expires_at": "2026-03-06T00:00:00Z",
                               "key_id": "c1000000-0000-4000-8000-00000000000c", "display_name": "tas",
                               "starts_at": "2025-03-06T00:00:00Z"}],
                  "certificates": [{"expires_at": "2027-01-01T00:00:00Z", "thumbprint": "AB"}],
                  "roles": {"*": ["Application.Read.All", "DelegatedAdminRelationship.Read.All"]}}],
        "delegated_grants": [{"client_id": PROVIDER_APP, "tenant": CONTOSO.domains[0], "scopes": ["User.Read"]}],
        "relationships": [{"partner": PARTNER.domains[0], "customer_tenant_id": CONTOSO.id,
                           "ends_at": "2026-03-05T00:00:00Z", "roles": [GLOBAL_ADMINISTRATOR],
                           "auto_extend": "P180D", "customer_name": "Contoso"}],
        "graph_page_size": 50})
    with IdentitySimulator(ca_dir=tmp_path / "ca", scenario=scenario, clock=clock) as sim:
        token = partner_token(sim)
        credentials = graph(sim, CREDENTIALS.format(PROVIDER_APP), token).json()
        (relationship,) = graph(sim, RELATIONSHIPS, token).json()["value"]
        scp = decode_claims(user_token(sim)["access_token"])["scp"]

    assert credentials["passwordCredentials"][0]["keyId"] == "c1000000-0000-4000-8000-00000000000c"
    assert credentials["keyCredentials"][0]["endDateTime"] == "2027-01-01T00:00:00Z"
    assert relationship["customer"]["tenantId"] == CONTOSO.id and relationship["status"] == "active"
    assert scp == "User.Read"


@pytest.mark.parametrize("bad", [
    {"relationships": [{"customer_tenant_id": CONTOSO.id}]},  # no partner
    {"relationships": [{"partner": "p", "customer_tenant_id": CONTOSO.id, "status": "paused"}]},
    {"relationships": [{"partner": "p", "customer_tenant_id": CONTOSO.id, "auto_extend": "P6M"}]},
    {"apps": [{"client_id": PROVIDER_APP, "secrets": [{"value": "x", "hint": "x"}]}]},
    {"delegated_grants": [{"client_id": PROVIDER_APP, "tenant": "t", "scopes": [], "scope": []}]},
])
def test_a_scenario_with_bad_graph_data_is_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        load_scenario(bad)
