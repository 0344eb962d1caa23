"""Verification through the real MSAL adapter against the identity platform simulator over real HTTPS:
every reason of the design, retries that really reach the platform, rotation, discovery cached, no secret leaked."""
from __future__ import annotations

import dataclasses
import logging
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.msal_platform import MsalIdentityPlatform, RetryPolicy
from shared.domain.inputs import CustomerInput, ProviderSettingsInput
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.domain.secrets import SecretKind
from shared.usecases.customers import put_customer
from shared.usecases.provider_settings import put_settings
from shared.usecases.verify import verify_customer
from tests.support.fakes import fake_services
from tools.identity_sim import (
    AadstsError,
    AppRegistration,
    ClientSecret,
    Hang,
    IdentitySimulator,
    Reset,
    ServerError,
    Success,
    Tenant,
    Throttle,
    User,
    fingerprint,
)

pytestmark = pytest.mark.integration

PROVIDER, APP = "11111111-2222-4333-8444-555555555555", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
PROVIDER_SECRET, APP_SECRET, PASSWORD = "Provider-Secret-Value-1", "App-Secret-Value-2", "Admin-Pass-Word-3"
ADMIN = "admin@contoso.onmicrosoft.com"
POLICY = RetryPolicy(attempts=4, retry_after_cap=2.0, backoff=0.05, request_timeout=2.0)
RT = SecretKind.REFRESH_TOKEN


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with IdentitySimulator(ca_dir=tmp_path_factory.mktemp("idsim")) as sim:
        yield sim


@pytest.fixture
def world(sim, monkeypatch, caplog):
    sim.clear_script()
    sim.clear_recording()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sim.ca_bundle_path))
    caplog.set_level(logging.DEBUG)
    tenant = Tenant.named(f"contoso{time.monotonic_ns()}")
    sim.add_tenant(tenant)
    admin = f"admin@{tenant.default_domain}"
    sim.add_user(User(upn=admin, password=PASSWORD))
    sim.add_app(AppRegistration(client_id=PROVIDER, secrets=(ClientSecret(PROVIDER_SECRET),)))
    sim.add_app(AppRegistration(client_id=APP, secrets=(ClientSecret(APP_SECRET),), roles={"*": ("User.Read.All",)}))
    platform = MsalIdentityPlatform(sim.authority_host, delegated_scopes=("https://graph.microsoft.com/.default",),
                                    application_scope="https://graph.microsoft.com/.default", pool_size=8,
                                    policy=POLICY)
    with closing(platform), fake_services(platform=platform) as services:
        put_settings(services.provider_settings, services.secrets, ProviderSettingsInput(
            client_id=PROVIDER, redirect_url="https://tas.example.com/authenticate/OAuth2Callback",
            client_secret=PROVIDER_SECRET))
        ctx = dataclasses.replace(services.verification, deadline_seconds=8.0)
        yield dataclasses.make_dataclass("World", ["sim", "services", "ctx", "tenant", "admin"])(
            sim, services, ctx, tenant, admin)


def add(world, method, *, cid="c1", tenant_id=None, **fields):
    data = CustomerInput(tenant_id=tenant_id or world.tenant.id, authentication_method=method,
                         m365_email=fields.pop("m365_email", world.admin), **fields)
    return put_customer(world.services.customers, world.services.secrets, cid, data)[0]


def with_refresh_token(world, value, cid="c1"):
    tenant = add(world, AuthMethod.TOKEN, cid=cid)
    version = world.services.secrets.create_version(cid, RT, value)
    return world.services.customers.replace(tenant, dataclasses.replace(tenant, secret_versions={RT: version}))


def verify(world, cid="c1"):
    return verify_customer(world.ctx, cid, in_run=False)


def token_requests(world):
    return [r for r in world.sim.requests_for(world.tenant.id, endpoint="token")]


# --- every reason of the design, through the real MSAL path ---------------------------------------------


def test_password_succeeds(world):
    add(world, AuthMethod.PASSWORD, password=PASSWORD)
    assert verify(world).last_verification_status is Status.SUCCEEDED


@pytest.mark.parametrize("change, reason", [
    ({}, Reason.INVALID_CREDENTIALS),                     # the wrong password
    ({"mfa_required": True}, Reason.MFA_REQUIRED),
    ({"locked": True}, Reason.ACCOUNT_LOCKED),
    ({"disabled": True}, Reason.ACCOUNT_DISABLED),
    ({"password_expired": True}, Reason.PASSWORD_EXPIRED),
])
def test_password_failures_of_the_account(world, change, reason):
    world.sim.update_user(world.admin, **change)
    add(world, AuthMethod.PASSWORD, password="Wrong-Password" if not change else PASSWORD)
    tenant = verify(world)
    assert (tenant.last_verification_status, tenant.last_verification_reason) == (Status.FAILED, reason)
    assert tenant.aadsts_code and tenant.hint and "Trace ID" not in tenant.last_verification_message


def test_an_unknown_user_is_user_not_found(world):
    add(world, AuthMethod.PASSWORD, password=PASSWORD, m365_email=f"nobody@{world.tenant.default_domain}")
    assert verify(world).last_verification_reason is Reason.USER_NOT_FOUND


@pytest.mark.parametrize("code, reason", [
    (53003, Reason.BLOCKED_BY_POLICY), (65001, Reason.CONSENT_REQUIRED), (65004, Reason.CONSENT_DENIED),
    (12345, Reason.UNKNOWN_ERROR),
])
def test_scripted_codes_are_classified(world, code, reason):
    world.sim.script(world.tenant.id, AadstsError(code))
    add(world, AuthMethod.PASSWORD, password=PASSWORD)
    tenant = verify(world)
    assert (tenant.last_verification_reason, tenant.aadsts_code) == (reason, code)


def test_refresh_tokens_expired_or_revoked(world):
    expired = world.sim.issue_refresh_token(tenant=world.tenant.id, upn=world.admin, client_id=PROVIDER)
    world.sim.expire_refresh_token(expired)
    with_refresh_token(world, expired)
    assert verify(world).last_verification_reason is Reason.TOKEN_EXPIRED
    revoked = world.sim.issue_refresh_token(tenant=world.tenant.id, upn=world.admin, client_id=PROVIDER)
    world.sim.revoke_refresh_token(revoked)
    with_refresh_token(world, revoked, cid="c2")
    assert verify(world, "c2").last_verification_reason is Reason.TOKEN_REVOKED


@pytest.mark.parametrize("app_id, secret, reason", [
    (APP, "Wrong-Secret", Reason.INVALID_CLIENT_SECRET),
    ("99999999-9999-4999-8999-999999999999", APP_SECRET, Reason.APPLICATION_NOT_FOUND),
])
def test_application_failures(world, app_id, secret, reason):
    add(world, AuthMethod.APPLICATION, application_id=app_id, application_secret=secret, m365_email=None)
    assert verify(world).last_verification_reason is reason


def test_an_expired_client_secret(world):
    expired = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    world.sim.add_app(AppRegistration(client_id=expired, secrets=(
        ClientSecret("Old-Secret", expires_at=datetime.now(UTC) - timedelta(days=1)),)))
    add(world, AuthMethod.APPLICATION, application_id=expired, application_secret="Old-Secret", m365_email=None)
    assert verify(world).last_verification_reason is Reason.CLIENT_SECRET_EXPIRED


def test_application_roles_and_success(world):
    add(world, AuthMethod.APPLICATION, application_id=APP, application_secret=APP_SECRET, m365_email=None)
    assert verify(world).last_verification_status is Status.SUCCEEDED
    world.sim.script(world.tenant.id, Success(roles=("Mail.Read",)))
    tenant = verify(world)
    assert tenant.last_verification_reason is Reason.MISSING_PERMISSIONS
    assert "User.Read.All" in tenant.last_verification_message


def test_an_unknown_tenant_fails_at_discovery_as_tenant_not_found(world):
    add(world, AuthMethod.APPLICATION, tenant_id="00000000-1111-4222-8333-444444444444",
        application_id=APP, application_secret=APP_SECRET, m365_email=None)
    tenant = verify(world)
    assert (tenant.last_verification_reason, tenant.aadsts_code) == (Reason.TENANT_NOT_FOUND, 90002)


def test_missing_settings_or_secrets_are_not_configured(world):
    add(world, AuthMethod.TOKEN)
    assert verify(world).last_verification_reason is Reason.NOT_CONFIGURED
    assert token_requests(world) == []


# --- retries reach the platform ---------------------------------------------------------------------------


def test_a_429_is_retried_after_its_retry_after_and_the_retry_arrives(world):
    add(world, AuthMethod.APPLICATION, application_id=APP, application_secret=APP_SECRET, m365_email=None)
    world.sim.script(world.tenant.id, Throttle(retry_after=1), times=1)
    started = time.monotonic()
    assert verify(world).last_verification_status is Status.SUCCEEDED
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert [r.status for r in token_requests(world)] == [429, 200]


@pytest.mark.parametrize("outcome", [ServerError(503), Reset(), Throttle(retry_after=0, json_body=False)])
def test_5xx_resets_and_plain_text_429s_are_retried(world, outcome):
    add(world, AuthMethod.PASSWORD, password=PASSWORD)
    world.sim.script(world.tenant.id, outcome, times=2)
    assert verify(world).last_verification_status is Status.SUCCEEDED
    assert len(token_requests(world)) == 3


def test_throttled_and_unreachable_after_bounded_attempts(world):
    add(world, AuthMethod.PASSWORD, password=PASSWORD)
    world.sim.script(world.tenant.id, Throttle(retry_after=0))
    assert verify(world).last_verification_reason is Reason.THROTTLED
    assert len(token_requests(world)) == POLICY.attempts
    world.sim.clear_script()
    world.sim.clear_recording()
    world.sim.script(world.tenant.id, ServerError(500))
    assert verify(world).last_verification_reason is Reason.UNREACHABLE
    assert len(token_requests(world)) == POLICY.attempts


def test_a_hanging_platform_is_unreachable_within_the_deadline(world):
    add(world, AuthMethod.PASSWORD, password=PASSWORD)
    world.sim.script(world.tenant.id, Hang())
    world.ctx = dataclasses.replace(world.ctx, deadline_seconds=3.0)
    started = time.monotonic()
    tenant = verify(world)
    assert tenant.last_verification_reason is Reason.UNREACHABLE
    assert time.monotonic() - started < 3.0 + POLICY.request_timeout  # bounded by the deadline


# --- rotation, caching, secrecy ---------------------------------------------------------------------------


def test_the_renewed_refresh_token_is_stored_and_used_next_time(world):
    first = world.sim.issue_refresh_token(tenant=world.tenant.id, upn=world.admin, client_id=PROVIDER)
    with_refresh_token(world, first)
    tenant = verify(world)
    assert tenant.last_verification_status is Status.SUCCEEDED
    renewed = world.services.secrets.get("c1", RT, tenant.secret_versions[RT])
    assert renewed and renewed != first
    verify(world)
    sent = [r.refresh_token_fingerprint for r in token_requests(world)]
    assert sent == [fingerprint(first), fingerprint(renewed)]


def test_discovery_is_asked_once_per_tenant_and_tokens_never_come_from_a_cache(world):
    add(world, AuthMethod.APPLICATION, application_id=APP, application_secret=APP_SECRET, m365_email=None)
    for _ in range(3):
        verify(world)
    assert len(world.sim.requests_for(world.tenant.id, endpoint="discovery")) == 1
    assert len(token_requests(world)) == 3  # a fresh application each time: no cached token


def test_no_secret_reaches_a_log_line(world, caplog):
    add(world, AuthMethod.PASSWORD, password=PASSWORD)
    verify(world)
    refresh = world.sim.issue_refresh_token(tenant=world.tenant.id, upn=world.admin, client_id=PROVIDER)
    with_refresh_token(world, refresh, cid="c2")
    tenant = verify(world, "c2")
    renewed = world.services.secrets.get("c2", RT, tenant.secret_versions[RT])
    add(world, AuthMethod.APPLICATION, cid="c3", application_id=APP, application_secret=APP_SECRET, m365_email=None)
    verify(world, "c3")
    assert caplog.records, "nothing was logged: the search below would prove nothing"
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (PASSWORD, PROVIDER_SECRET, APP_SECRET, refresh, renewed):
        assert secret not in text
