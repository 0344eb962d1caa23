"""Foresight during verification, over fakes (scripted platform and Graph): what a verification learns and keeps,
at most one Graph read per customer a day, unknown-and-why on failed reads, consent drift, the provider's secret
read once for everyone, the GDAP listing, and connectionExpiring written once per band."""
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.config import load_config
from shared.domain.alerts.events import EventType
from shared.domain.expiry import UnknownReason
from shared.domain.expiry_credentials import AppCredentials, PasswordCredential
from shared.domain.expiry_gdap import GLOBAL_ADMINISTRATOR_ROLE, DelegatedAdminRelationship
from shared.domain.expiry_reads import ReadUnknown
from shared.domain.inputs import CustomerInput, ProviderSettingsInput
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.domain.secrets import SecretKind
from shared.domain.verification import TokenAnswer
from shared.expiry_views import foresight_fields
from shared.usecases.customers import put_customer
from shared.usecases.provider_settings import put_settings
from shared.usecases.verify import verify_customer
from tests.support.fakes import fake_services

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER = "82f988bf-86f1-41af-91ab-2d7cd011db48"
PARTNER = "10000000-0000-4000-8000-0000000000a1"
APP = "11111111-2222-3333-4444-555555555555"
PROVIDER = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
SECRET = "Abc~customer-secret"


def config(**env):
    return load_config({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "VERIFY_CONCURRENCY": "4", **env})


@pytest.fixture
def world():
    with fake_services(config=config(CONSENT_SCOPES="https://graph.microsoft.com/User.Read.All")) as services:
        yield services


def in_days(days):
    return datetime.now(UTC) + timedelta(days=days)


def ok(tenant, **claims):
    return TokenAnswer(claims={"tid": tenant, "roles": ["User.Read.All"], **claims}, access_token="access-token")


def add_app_customer(services, cid="c1", tenant=TENANT, **extra):
    data = CustomerInput(tenant_id=tenant, authentication_method=AuthMethod.APPLICATION, m365_email=None,
                         application_id=APP, application_secret=SECRET, **extra)
    put_customer(services.customers, services.secrets, cid, data)


def graph(services):
    return services.verification.foresight._graph


def expiring_events(services):
    return [event for event in services.events.appended if event.type is EventType.CONNECTION_EXPIRING]


def test_the_apps_secret_is_read_with_its_own_token_matched_by_hint_and_warned_once(world):
    world.verification.platform.script(TENANT, ok(TENANT))
    ends = in_days(5).replace(microsecond=0)
    graph(world).credentials = AppCredentials(passwords=(
        PasswordCredential("k-other", "Xyz", in_days(1)), PasswordCredential("k-ours", SECRET[:3], ends)))
    add_app_customer(world)

    verified = verify_customer(world.verification, "c1", in_run=True)
    view = foresight_fields(verified)
    assert view["expiry"] == {"what": "clientSecret", "source": "graph", "at": ends.isoformat().replace("+00:00", "Z")}
    assert graph(world).reads == [f"application:{APP}"]
    assert [(event.customer_id, event.after.status) for event in expiring_events(world)] == [
        ("c1", Status.SUCCEEDED)]

    verify_customer(world.verification, "c1", in_run=True)  # a run the same day: what is kept is fresh
    assert len(graph(world).reads) == 1
    verify_customer(world.verification, "c1", in_run=False)  # an operator's verify one reads again
    assert len(graph(world).reads) == 2
    assert len(expiring_events(world)) == 1  # the 7-day band, once for this credential


@pytest.mark.parametrize("reason", [UnknownReason.PERMISSION_MISSING, UnknownReason.THROTTLED,
                                    UnknownReason.UNREACHABLE])
def test_a_failed_read_is_unknown_with_its_reason_never_no_expiry(world, reason):
    world.verification.platform.script(TENANT, ok(TENANT))
    graph(world).credentials = ReadUnknown(reason, f"Graph said {reason}.")
    add_app_customer(world)
    view = foresight_fields(verify_customer(world.verification, "c1", in_run=True))
    assert view["expiresAt"] is None and view["expiry"] is None
    assert view["expiryUnknown"] == [{"what": "clientSecret", "reason": reason.value,
                                      "message": f"Graph said {reason}."}]


def test_a_failed_read_falls_back_to_the_operators_date(world):
    world.verification.platform.script(TENANT, ok(TENANT))
    add_app_customer(world, application_secret_expires_at=in_days(60), expiry_given=True)
    view = foresight_fields(verify_customer(world.verification, "c1", in_run=True))
    assert view["expiry"]["source"] == "operator" and view["expiryUnknown"] == []


def test_no_read_without_a_token(world):
    world.verification.platform.script(TENANT, TokenAnswer(error="invalid_client", error_codes=(7000215,)))
    add_app_customer(world)
    verified = verify_customer(world.verification, "c1", in_run=True)
    assert verified.last_verification_reason is Reason.INVALID_CLIENT_SECRET
    assert graph(world).reads == []
    assert [item["reason"] for item in foresight_fields(verified)["expiryUnknown"]] == ["notReadYet"]


def add_token_customer(services, cid="t1", tenant=TENANT, *, provider_secret_ends=True):
    put_settings(services.provider_settings, services.secrets, ProviderSettingsInput(
        client_id=PROVIDER, redirect_url="https://x.example/authenticate/OAuth2Callback", client_secret="Prv-secret",
        client_secret_expires_at=in_days(200) if provider_secret_ends else None, expiry_given=True))
    put_customer(services.customers, services.secrets, cid, CustomerInput(
        tenant_id=tenant, authentication_method=AuthMethod.TOKEN, m365_email=None))
    customer = services.customers.get(cid)
    services.customers.replace(customer, dataclasses.replace(customer, secret_versions={
        SecretKind.REFRESH_TOKEN: services.secrets.create_version(cid, SecretKind.REFRESH_TOKEN, "rt")}))


def test_consent_drift_names_the_missing_scopes(world):
    add_token_customer(world)
    world.verification.platform.script(TENANT, ok(TENANT, scp="openid Mail.Read", aud="https://graph.microsoft.com"))
    verified = verify_customer(world.verification, "t1", in_run=True)
    assert verified.last_verification_reason is Reason.MISSING_PERMISSIONS
    assert "https://graph.microsoft.com/User.Read.All" in verified.last_verification_message


def test_a_token_customers_refresh_token_expires_90_days_after_its_last_redemption(world):
    add_token_customer(world)
    world.verification.platform.script(TENANT, ok(TENANT, scp="User.Read.All", aud="https://graph.microsoft.com"))
    before = datetime.now(UTC)
    verified = verify_customer(world.verification, "t1", in_run=True)
    assert verified.last_verification_status is Status.SUCCEEDED
    view = foresight_fields(verified)
    assert view["expiry"]["what"] == "refreshTokenInactivity" and view["expiry"]["source"] == "computed"
    at = datetime.fromisoformat(view["expiresAt"].replace("Z", "+00:00"))
    assert before + timedelta(days=90) - timedelta(seconds=1) <= at <= datetime.now(UTC) + timedelta(days=90)


def test_the_providers_secret_is_read_once_in_its_own_tenant_for_every_customer():
    with fake_services(config=config(PROVIDER_TENANT_ID=PARTNER)) as services:
        ends = in_days(3).replace(microsecond=0)
        services.verification.platform.script(PARTNER, ok(PARTNER))
        graph(services).credentials = AppCredentials(passwords=(PasswordCredential("k", "Prv", ends),))
        add_token_customer(services, "t1")
        add_token_customer(services, "t2", tenant=OTHER)
        for cid in ("t1", "t2"):
            view = foresight_fields(verify_customer(services.verification, cid, in_run=True))
            assert view["expiry"]["what"] == "providerClientSecret" and view["expiry"]["source"] == "graph"
        assert graph(services).reads == [f"application:{PROVIDER}"]
        assert services.provider_settings.get().client_secret_graph.at == ends  # the summary line reads it


def test_without_a_provider_tenant_the_view_says_why_the_providers_secret_and_relationship_are_unknown():
    with fake_services(config=config(GDAP_CHECK="true")) as services:
        services.verification.platform.script(TENANT, ok(TENANT))
        add_token_customer(services, "t1", provider_secret_ends=False)
        view = foresight_fields(verify_customer(services.verification, "t1", in_run=True))
        assert view["expiry"]["what"] == "refreshTokenInactivity"
        assert [(item["what"], item["reason"]) for item in view["expiryUnknown"]] == [
            ("providerClientSecret", "providerTenantNotSet"), ("gdapRelationship", "providerTenantNotSet")]
        assert all("PROVIDER_TENANT_ID" in item["message"] for item in view["expiryUnknown"])
        assert graph(services).reads == []


def test_gdap_relationships_are_listed_once_and_one_holding_global_admin_warns():
    with fake_services(config=config(PROVIDER_TENANT_ID=PARTNER, GDAP_CHECK="true")) as services:
        services.verification.platform.script(PARTNER, ok(PARTNER))
        services.verification.platform.script(TENANT, ok(TENANT))
        services.verification.platform.script(OTHER, ok(OTHER))
        ends = in_days(20).replace(microsecond=0)
        graph(services).relationships = (DelegatedAdminRelationship(
            "rel-1", TENANT, "active", ends, "P180D", (GLOBAL_ADMINISTRATOR_ROLE,)),)
        add_token_customer(services, "t1")
        add_app_customer(services, "a2", tenant=OTHER)
        first = verify_customer(services.verification, "t1", in_run=True)
        second = verify_customer(services.verification, "a2", in_run=True)
        assert first.foresight.gdap.at == ends and first.foresight.gdap_reason == "holdsGlobalAdministrator"
        assert second.foresight.gdap is None  # no relationship with that tenant: nothing to say
        assert graph(services).reads.count("relationships") == 1


def test_a_runs_group_write_keeps_what_each_verification_learnt_and_its_warnings(world):
    from shared.usecases.verify import check, record_many

    world.verification.platform.script(TENANT, ok(TENANT))
    ends = in_days(12)
    graph(world).credentials = AppCredentials(passwords=(PasswordCredential("k", SECRET[:3], ends),))
    add_app_customer(world, "g1")
    add_app_customer(world, "g2")
    done = [check(world.verification, world.customers.get(cid), in_run=True) for cid in ("g1", "g2")]
    saved = record_many(world.verification, done, run_id="run-1")
    assert [customer.foresight.client_secret.at for customer in saved] == [ends, ends]
    assert [(event.customer_id, event.run_id) for event in expiring_events(world)] == [("g1", "run-1"),
                                                                                        ("g2", "run-1")]
    assert all(customer.foresight.warned for customer in saved)


def test_a_new_secret_forgets_what_graph_said_of_the_old_one(world):
    world.verification.platform.script(TENANT, ok(TENANT))
    graph(world).credentials = AppCredentials(passwords=(PasswordCredential("k", SECRET[:3], in_days(3)),))
    add_app_customer(world)
    assert foresight_fields(verify_customer(world.verification, "c1", in_run=True))["expiry"]["source"] == "graph"
    put_customer(world.customers, world.secrets, "c1", CustomerInput(
        tenant_id=TENANT, authentication_method=AuthMethod.APPLICATION, m365_email=None, application_id=APP,
        application_secret="Xyz-rotated-secret"))
    view = foresight_fields(world.customers.get("c1"))
    assert view["expiry"] is None and [item["reason"] for item in view["expiryUnknown"]] == ["notReadYet"]
    assert world.customers.get("c1").foresight.warned  # the old credential's bands are kept, keyed by it
