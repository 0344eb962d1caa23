"""What consent binding and recording need of the real adapters: lastConsent kept with the customer record in
Azurite, and a domain resolved to its tenant by the MSAL adapter over real HTTPS against the identity
platform simulator, through the discovery cache MSAL's own requests use."""
from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

import pytest

from shared.adapters.msal_consent import MsalConsentPlatform
from shared.adapters.msal_platform import MsalIdentityPlatform, RetryPolicy
from shared.adapters.table_customers import CUSTOMER_PARTITION, TableCustomerStore
from shared.domain.errors import DependencyUnavailable
from shared.domain.models import AuthMethod, ConsentResult, Customer, LastConsent
from shared.domain.verification import AppCredential
from tools.identity_sim import AppRegistration, ClientSecret, IdentitySimulator, ServerError
from tools.identity_sim import Tenant as SimTenant

pytestmark = pytest.mark.integration

PROVIDER, PROVIDER_SECRET = "11111111-2222-4333-8444-555555555555", "Provider-Secret-Value-1"
POLICY = RetryPolicy(attempts=3, retry_after_cap=1.0, backoff=0.05, request_timeout=2.0)


# --- lastConsent in the Tenants table --------------------------------------------------------------


@pytest.fixture
def store(tables) -> TableCustomerStore:
    return TableCustomerStore(tables, table=f"Tenants{uuid.uuid4().hex[:16]}")


def test_last_consent_round_trips_with_the_record(store, tables):
    last = LastConsent(ConsentResult.DECLINED, AuthMethod.TOKEN, datetime(2026, 5, 1, 12, 0, 1, 5, tzinfo=UTC),
                       'AADSTS65004: User declined to consent. <b>"quoted"</b> ' + "x" * 400)
    added = store.create(Customer(customer_id="c1", tenant_id="contoso.onmicrosoft.com",
                                  authentication_method=AuthMethod.PASSWORD, last_consent=last))
    assert store.get("c1").last_consent == last
    store.replace(added, Customer(customer_id="c1", tenant_id="contoso.onmicrosoft.com",
                                  authentication_method=AuthMethod.PASSWORD))
    assert store.get("c1").last_consent is None  # REPLACE clears the column


def test_an_unreadable_last_consent_reads_as_none_and_the_record_still_reads(store, tables, caplog):
    store.get_status_counts()  # creates the table
    client = tables.get_table_client(store._name)
    for n, raw in enumerate(['{"outcome": "maybe", "method": "token", "at": "2026-01-01T00:00:00+00:00"}',
                             "not json", '["a list"]', '{"outcome": "granted"}']):
        client.create_entity({"PartitionKey": CUSTOMER_PARTITION, "RowKey": f"odd{n}", "tenantId": "contoso.com",
                              "authenticationMethod": "password", "lastConsent": raw})
        with caplog.at_level(logging.WARNING):
            got = store.get(f"odd{n}")
        assert got.last_consent is None and got.tenant_id == "contoso.com"
    assert caplog.text.count("lastConsent of customer") == 4


# --- a domain resolved by the MSAL adapter ---------------------------------------------------------


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with IdentitySimulator(ca_dir=tmp_path_factory.mktemp("idsim-consent")) as sim:
        sim.add_app(AppRegistration(client_id=PROVIDER, secrets=(ClientSecret(PROVIDER_SECRET),)))
        yield sim


@pytest.fixture
def world(sim, monkeypatch):
    sim.clear_script()
    sim.clear_recording()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sim.ca_bundle_path))
    label = f"bind{uuid.uuid4().hex[:10]}"
    tenant = sim.add_tenant(SimTenant(id=str(uuid.uuid4()), domains=(f"{label}.onmicrosoft.com", f"{label}.example")))
    platform = MsalIdentityPlatform(sim.authority_host, delegated_scopes=("https://graph.microsoft.com/.default",),
                                    application_scope="https://graph.microsoft.com/.default", pool_size=4,
                                    policy=POLICY)
    return sim, tenant, platform, MsalConsentPlatform(platform)


def deadline() -> float:
    return time.monotonic() + 10


def test_each_domain_of_a_tenant_resolves_to_its_id_whatever_its_case(world):
    _, tenant, _, consent = world
    for domain in tenant.domains:
        assert consent.tenant_of_domain(domain, deadline=deadline()) == tenant.id
    assert consent.tenant_of_domain(tenant.domains[0].upper(), deadline=deadline()) == tenant.id


def test_a_domain_the_platform_does_not_know_resolves_to_nothing(world):
    sim, _, _, consent = world
    assert consent.tenant_of_domain("nosuch-domain.example", deadline=deadline()) is None
    (asked,) = sim.requests_for("nosuch-domain.example", endpoint="discovery")
    assert asked.status == 400  # AADSTS90002, invalid_tenant: asked once, not retried


def test_the_lookup_shares_the_discovery_cache_msal_uses(world):
    sim, tenant, platform, consent = world
    domain = tenant.domains[0]
    platform.application(domain, AppCredential(PROVIDER, PROVIDER_SECRET))  # MSAL discovers the domain
    assert consent.tenant_of_domain(domain, deadline=deadline()) == tenant.id
    assert consent.tenant_of_domain(domain, deadline=deadline()) == tenant.id
    assert len(sim.requests_for(domain, endpoint="discovery")) == 1


def test_a_5xx_is_tried_again_and_a_platform_that_never_answers_is_unavailable(world):
    sim, tenant, _, consent = world
    domain = tenant.domains[1]
    sim.script(domain, ServerError(503), endpoint="discovery", times=1)
    assert consent.tenant_of_domain(domain, deadline=deadline()) == tenant.id
    assert [r.status for r in sim.requests_for(domain, endpoint="discovery")] == [503, 200]
    other = SimTenant.named(f"down{uuid.uuid4().hex[:10]}")
    sim.add_tenant(other)
    sim.script(other.default_domain, ServerError(500), endpoint="discovery")
    with pytest.raises(DependencyUnavailable) as raised:
        consent.tenant_of_domain(other.default_domain, deadline=deadline())
    assert raised.value.code == "identityPlatformUnavailable"
    assert len(sim.requests_for(other.default_domain, endpoint="discovery")) == POLICY.attempts
