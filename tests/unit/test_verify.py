"""Verifying one customer, over fakes of every port: methods, reasons, rotation, lockout safety, races."""
from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import pytest

from shared.domain.errors import DependencyUnavailable
from shared.domain.inputs import CustomerInput, ProviderSettingsInput
from shared.domain.models import AuthMethod, Customer, Status
from shared.domain.reasons import Reason
from shared.domain.secrets import SecretKind
from shared.domain.verification import TokenAnswer, same_verification_inputs
from shared.usecases.customers import put_customer
from shared.usecases.provider_settings import put_settings
from shared.usecases.secret_sweep import GRACE, sweep_secrets
from shared.usecases.verify import check, record_many, verify_customer
from shared.views import tenant_view

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
PROVIDER = "11111111-2222-3333-4444-555555555555"
APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
RT = SecretKind.REFRESH_TOKEN


@pytest.fixture
def world(services):
    """(services, their scripted identity platform, their verification context)."""
    return services, services.verification.platform, services.verification


def configure_provider(services):
    put_settings(services.provider_settings, services.secrets, ProviderSettingsInput(
        client_id=PROVIDER, redirect_url="https://tas.example.com/authenticate/OAuth2Callback",
        client_secret="provider-secret"))


def add(services, cid, method, **fields):
    data = CustomerInput(tenant_id=fields.pop("tenant_id", TENANT), authentication_method=method,
                         m365_email=fields.pop("m365_email", "admin@contoso.com"), **fields)
    return put_customer(services.customers, services.secrets, cid, data)[0]


def with_refresh_token(services, cid, value="rt-1"):
    customer = add(services, cid, AuthMethod.TOKEN)
    version = services.secrets.create_version(cid, RT, value)
    return services.customers.replace(customer, dataclasses.replace(customer, secret_versions={RT: version}))


def failing(code, description=None, error="invalid_grant"):
    return TokenAnswer(error=error, error_codes=(code,),
                       description=description or f"AADSTS{code}: Something.\r\nTrace ID: abc\r\nCorrelation ID: d")


def test_password_success_through_the_providers_app(world):
    services, platform, ctx = world
    configure_provider(services)
    add(services, "c1", AuthMethod.PASSWORD, password="Pw-1")
    customer = verify_customer(ctx, "c1", in_run=False)
    assert customer.last_verification_status is Status.SUCCEEDED and customer.when_last_verified is not None
    assert platform.calls == [("password", TENANT, PROVIDER)] and platform.sent == ["Pw-1"]
    assert [r.status for r in services.history.list_latest("c1", limit=5)] == [Status.SUCCEEDED]


@pytest.mark.parametrize("code, reason", [
    (50126, Reason.INVALID_CREDENTIALS), (50076, Reason.MFA_REQUIRED), (53003, Reason.BLOCKED_BY_POLICY),
    (65001, Reason.CONSENT_REQUIRED), (50053, Reason.ACCOUNT_LOCKED), (50057, Reason.ACCOUNT_DISABLED),
    (50055, Reason.PASSWORD_EXPIRED), (50034, Reason.USER_NOT_FOUND), (90002, Reason.TENANT_NOT_FOUND),
    (12345, Reason.UNKNOWN_ERROR),
])
def test_password_failures_are_classified_by_code(world, code, reason):
    services, platform, ctx = world
    configure_provider(services)
    add(services, "c1", AuthMethod.PASSWORD, password="Pw-1")
    platform.script(TENANT, failing(code))
    customer = verify_customer(ctx, "c1", in_run=False)
    assert (customer.last_verification_status, customer.last_verification_reason) == (Status.FAILED, reason)
    assert customer.aadsts_code == code and customer.hint
    assert customer.last_verification_message == f"AADSTS{code}: Something."  # no trace or correlation id
    if reason is Reason.MFA_REQUIRED:
        assert "token authentication" in customer.hint


def test_missing_provider_settings_or_secret_is_not_configured(world):
    services, _, ctx = world
    add(services, "c1", AuthMethod.PASSWORD, password="Pw-1")
    customer = verify_customer(ctx, "c1", in_run=False)
    assert customer.last_verification_reason is Reason.NOT_CONFIGURED and "Settings" in customer.hint
    configure_provider(services)
    add(services, "c2", AuthMethod.TOKEN)
    customer = verify_customer(ctx, "c2", in_run=False)
    assert customer.last_verification_reason is Reason.NOT_CONFIGURED and "Grant Consent" in customer.hint


def test_a_renewed_refresh_token_replaces_the_old_one(world):
    services, platform, ctx = world
    configure_provider(services)
    before = with_refresh_token(services, "c1", "rt-old")
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT}, refresh_token="rt-new"))
    customer = verify_customer(ctx, "c1", in_run=False)
    assert customer.last_verification_status is Status.SUCCEEDED
    assert services.secrets.get("c1", RT, customer.secret_versions[RT]) == "rt-new"
    # The replaced version stays (storage may yet lose the record's move) until the sweep's grace has passed.
    assert services.secrets.get("c1", RT, before.secret_versions[RT]) == "rt-old"
    sweep_secrets(services.customers, services.provider_settings, services.secrets, now=datetime.now(UTC) + GRACE * 2)
    assert services.secrets.get("c1", RT, before.secret_versions[RT]) is None
    assert platform.sent == ["rt-old"]


def test_a_store_failing_on_write_keeps_the_old_refresh_token_and_says_so(world):
    services, platform, ctx = world
    configure_provider(services)
    before = with_refresh_token(services, "c1", "rt-old")
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT}, refresh_token="rt-new"))
    services.secrets.fail_with = DependencyUnavailable("secretStoreUnavailable", "down")
    customer = verify_customer(ctx, "c1", in_run=False)
    services.secrets.fail_with = None
    assert customer.last_verification_status is Status.SUCCEEDED
    assert "could not be stored" in customer.last_verification_message
    assert customer.secret_versions == before.secret_versions
    assert services.secrets.get("c1", RT, customer.secret_versions[RT]) == "rt-old"


def test_application_roles_and_tenant_are_checked(world):
    services, platform, ctx = world
    add(services, "c1", AuthMethod.APPLICATION, application_id=APP, application_secret="app-secret")
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["Mail.Read"]}))
    customer = verify_customer(ctx, "c1", in_run=False)
    assert customer.last_verification_reason is Reason.MISSING_PERMISSIONS
    assert "User.Read.All" in customer.last_verification_message
    platform.script(TENANT, TokenAnswer(claims={"tid": OTHER, "roles": ["User.Read.All"]}))
    assert verify_customer(ctx, "c1", in_run=False).last_verification_reason is Reason.TENANT_NOT_FOUND
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All", "Mail.Read"]}))
    assert verify_customer(ctx, "c1", in_run=False).last_verification_status is Status.SUCCEEDED
    assert platform.calls[-1] == ("client_credentials", TENANT, APP) and platform.sent[-1] == "app-secret"


def test_transport_failures_are_throttled_or_unreachable_and_throttling_lowers_concurrency(world):
    services, platform, ctx = world
    add(services, "c1", AuthMethod.APPLICATION, application_id=APP, application_secret="s")
    platform.script(TENANT, TokenAnswer(transport=Reason.THROTTLED, throttled=3, description="HTTP 429"))
    assert verify_customer(ctx, "c1", in_run=False).last_verification_reason is Reason.THROTTLED
    assert ctx.limiter.limit == 2
    platform.script(TENANT, TokenAnswer(transport=Reason.UNREACHABLE, description="connection reset"))
    assert verify_customer(ctx, "c1", in_run=False).last_verification_reason is Reason.UNREACHABLE


def test_a_rejected_password_is_not_resent_by_runs_until_it_changes(world):
    services, platform, ctx = world
    configure_provider(services)
    add(services, "c1", AuthMethod.PASSWORD, password="wrong")
    platform.script(TENANT, failing(50126))
    verify_customer(ctx, "c1", in_run=True)
    skipped = verify_customer(ctx, "c1", in_run=True)
    assert len(platform.calls) == 1, "a scheduled run sent the rejected password again"
    assert skipped.last_verification_reason is Reason.INVALID_CREDENTIALS and "Not sent again" in skipped.hint
    verify_customer(ctx, "c1", in_run=False)  # Verify now still tries
    assert len(platform.calls) == 2
    add(services, "c1", AuthMethod.PASSWORD, password="right")  # a new password resets the status
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT}))
    assert verify_customer(ctx, "c1", in_run=True).last_verification_status is Status.SUCCEEDED
    assert platform.sent[-1] == "right"


def test_an_edit_that_changes_only_the_letter_case_of_the_email_keeps_the_lockout_guard(world):
    services, platform, ctx = world
    configure_provider(services)
    add(services, "c1", AuthMethod.PASSWORD, password="wrong", m365_email="admin@contoso.com")
    platform.script(TENANT, failing(50126))
    verify_customer(ctx, "c1", in_run=True)
    edited = add(services, "c1", AuthMethod.PASSWORD, m365_email="Admin@Contoso.COM", tenant_id=TENANT.upper())
    assert edited.m365_email == "Admin@Contoso.COM"  # stored as typed
    assert edited.last_verification_reason is Reason.INVALID_CREDENTIALS  # the same sign-in to the platform
    verify_customer(ctx, "c1", in_run=True)
    assert len(platform.calls) == 1, "a run sent the rejected password again after a case-only edit"
    add(services, "c1", AuthMethod.PASSWORD, m365_email="other@contoso.com")  # another user: sent again
    verify_customer(ctx, "c1", in_run=True)
    assert len(platform.calls) == 2


def test_a_case_only_edit_during_the_verification_does_not_drop_its_result(world):
    services, platform, ctx = world
    configure_provider(services)
    add(services, "c1", AuthMethod.PASSWORD, password="Pw-1")

    def edit_then_answer():
        add(services, "c1", AuthMethod.PASSWORD, m365_email="ADMIN@contoso.com")
        return TokenAnswer(claims={"tid": TENANT})

    platform.script(TENANT, edit_then_answer)
    customer = verify_customer(ctx, "c1", in_run=False)
    assert customer.last_verification_status is Status.SUCCEEDED and customer.m365_email == "ADMIN@contoso.com"


def rolled_back(services, cid, *, retired: bool):
    """What storage that lost confirmed writes leaves: the record still names rt-1, whose renewal rt-2 is the
    newest version stored (and rt-1 retired, if the sweep ran before the loss)."""
    record = with_refresh_token(services, cid, "rt-1")
    services.secrets.create_version(cid, RT, "rt-2")
    if retired:
        services.secrets.retire_version(cid, RT, record.secret_versions[RT])
    return record


def test_a_record_naming_a_missing_version_uses_the_newest_one_still_stored_and_moves_to_it(world, caplog):
    services, platform, ctx = world
    configure_provider(services)
    rolled_back(services, "c1", retired=True)
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT}))  # no renewal: the record moves to rt-2
    with caplog.at_level(logging.WARNING):
        customer = verify_customer(ctx, "c1", in_run=True)
    assert platform.sent == ["rt-2"] and customer.last_verification_status is Status.SUCCEEDED
    assert services.secrets.get("c1", RT, customer.secret_versions[RT]) == "rt-2"
    assert "missing from the secret store" in customer.last_verification_message
    assert "missing from the secret store" in services.history.list_latest("c1", limit=1)[0].message
    assert "refreshToken version the record of customer c1 names is not in the secret store" in caplog.text
    assert "rt-1" not in caplog.text and "rt-2" not in caplog.text
    # What it moved to is named now: the sweep keeps it.
    sweep_secrets(services.customers, services.provider_settings, services.secrets, now=datetime.now(UTC) + GRACE * 2)
    assert verify_customer(ctx, "c1", in_run=True).last_verification_message is None and platform.sent[-1] == "rt-2"


def test_a_group_with_a_record_naming_a_missing_version_uses_the_newest_and_records_the_renewal(world):
    services, platform, ctx = world
    configure_provider(services)
    add(services, "a1", AuthMethod.APPLICATION, application_id=APP, application_secret="s")
    rolled_back(services, "t1", retired=True)
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}, refresh_token="rt-3"))
    saved = record_many(ctx, checked(ctx, "a1", "t1"))
    assert platform.sent[-1] == "rt-2" and [t.last_verification_status for t in saved] == [Status.SUCCEEDED] * 2
    assert services.secrets.get("t1", RT, saved[1].secret_versions[RT]) == "rt-3"
    assert "missing from the secret store" in services.history.list_latest("t1", limit=1)[0].message


def test_a_record_whose_version_is_still_stored_keeps_using_it_after_a_rollback(world):
    services, platform, ctx = world
    configure_provider(services)
    record = rolled_back(services, "c1", retired=False)
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT}))
    customer = verify_customer(ctx, "c1", in_run=True)
    assert platform.sent == ["rt-1"] and customer.secret_versions == record.secret_versions
    assert customer.last_verification_message is None


def test_a_failure_after_a_fall_back_keeps_the_platforms_message_and_notes_it_in_the_hint(world):
    services, platform, ctx = world
    configure_provider(services)
    rolled_back(services, "c1", retired=True)
    platform.script(TENANT, failing(50173))
    customer = verify_customer(ctx, "c1", in_run=True)
    assert customer.last_verification_message == "AADSTS50173: Something."
    assert customer.hint.startswith("The refreshToken version") and "Grant Consent" in customer.hint


def test_a_record_whose_secret_is_gone_altogether_stops_listing_it(world):
    services, _, ctx = world
    configure_provider(services)
    record = with_refresh_token(services, "c1", "rt-1")
    services.secrets.retire_version("c1", RT, record.secret_versions[RT])
    assert tenant_view(record)["secretsConfigured"] == ["refreshToken"]
    customer = verify_customer(ctx, "c1", in_run=True)
    assert customer.last_verification_reason is Reason.NOT_CONFIGURED
    assert tenant_view(customer)["secretsConfigured"] == []


def test_an_edit_during_the_verification_wins_and_the_result_is_dropped(world):
    services, platform, ctx = world
    configure_provider(services)
    with_refresh_token(services, "c1", "rt-old")

    def edit_then_answer():
        add(services, "c1", AuthMethod.TOKEN, tenant_id=OTHER)  # the tenant id changes mid-verification
        return TokenAnswer(claims={"tid": TENANT}, refresh_token="rt-new")

    platform.script(TENANT, edit_then_answer)
    customer = verify_customer(ctx, "c1", in_run=False)
    assert customer.tenant_id == OTHER and customer.last_verification_status is Status.NOT_VERIFIED
    assert services.history.list_latest("c1", limit=5) == []
    assert "rt-new" not in services.secrets.values.values()  # the new version was retired


def test_a_customer_gone_before_its_verification_is_none(world):
    _, platform, ctx = world
    assert verify_customer(ctx, "nobody", in_run=True) is None and platform.calls == []


def test_the_providers_secret_is_read_once_per_version_not_once_per_customer(world):
    services, platform, ctx = world
    configure_provider(services)
    reads = []
    real_get = services.secrets.get
    services.secrets.get = lambda cid, name, version: reads.append((cid, name)) or real_get(cid, name, version)
    for n in range(5):
        add(services, f"c{n}", AuthMethod.PASSWORD, password="Pw-1")
        verify_customer(ctx, f"c{n}", in_run=True)
    assert reads.count((None, "clientSecret")) == 1
    put_settings(services.provider_settings, services.secrets, ProviderSettingsInput(
        client_id=PROVIDER, redirect_url="https://tas.example.com/authenticate/OAuth2Callback",
        client_secret="rotated-secret"))
    verify_customer(ctx, "c0", in_run=False)
    assert reads.count((None, "clientSecret")) == 2 and platform.calls[-1][2] == PROVIDER  # the new version, at once


# --- several results recorded at once (a run's group) -------------------------------------------------------


class CountingCustomers:
    """The fake customer store, counting the batched writes (and failing them once when asked)."""

    def __init__(self, inner) -> None:
        self.inner, self.batches, self.fail_once = inner, [], None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def replace_many(self, changes, *, events=(), results=()):
        self.batches.append([customer.customer_id for _, customer in changes])
        if self.fail_once is not None:
            error, self.fail_once = self.fail_once, None
            raise error
        return self.inner.replace_many(changes, events=events, results=results)


def checked(ctx, *cids):
    return [check(ctx, ctx.customers.get(cid), in_run=True) for cid in cids]


def test_a_group_of_results_is_written_in_one_batch_with_its_history_and_renewed_tokens(world):
    services, platform, ctx = world
    configure_provider(services)
    ctx = dataclasses.replace(ctx, customers=CountingCustomers(services.customers))
    add(services, "a1", AuthMethod.APPLICATION, application_id=APP, application_secret="s")
    before = with_refresh_token(services, "t1", "rt-old")
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}, refresh_token="rt-new"))
    saved = record_many(ctx, checked(ctx, "a1", "t1"))
    assert ctx.customers.batches == [["a1", "t1"]]  # one write for both records
    assert [t.customer_id for t in saved] == ["a1", "t1"]
    assert all(t.last_verification_status is Status.SUCCEEDED for t in saved)
    assert saved == [services.customers.get("a1"), services.customers.get("t1")]
    assert [len(services.history.list_latest(c, limit=5)) for c in ("a1", "t1")] == [1, 1]
    renewed = services.customers.get("t1").secret_versions[RT]
    assert services.secrets.get("t1", RT, renewed) == "rt-new"
    assert services.secrets.get("t1", RT, before.secret_versions[RT]) == "rt-old"  # left to the sweep


def test_a_group_with_one_record_changed_meanwhile_records_the_others_and_drops_only_that_result(world):
    services, platform, ctx = world
    configure_provider(services)
    ctx = dataclasses.replace(ctx, customers=CountingCustomers(services.customers))
    for cid in ("a1", "a2"):
        add(services, cid, AuthMethod.APPLICATION, application_id=APP, application_secret="s")
    with_refresh_token(services, "t1", "rt-old")
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}, refresh_token="rt-new"))
    done = checked(ctx, "a1", "t1", "a2")
    add(services, "t1", AuthMethod.TOKEN, tenant_id=OTHER)  # an edit lands before the group is recorded
    saved = record_many(ctx, done)
    assert len(ctx.customers.batches) == 1  # the batch lost as a whole, then each on its own
    assert [t.last_verification_status for t in saved] == [Status.SUCCEEDED, Status.NOT_VERIFIED, Status.SUCCEEDED]
    assert services.customers.get("t1").tenant_id == OTHER and services.history.list_latest("t1", limit=5) == []
    assert "rt-new" not in services.secrets.values.values()  # the dropped result's renewed token was retired
    assert [len(services.history.list_latest(c, limit=5)) for c in ("a1", "a2")] == [1, 1]


def test_a_group_whose_renewed_token_cannot_be_stored_keeps_the_old_one_and_says_so(world):
    services, platform, ctx = world
    configure_provider(services)
    add(services, "a1", AuthMethod.APPLICATION, application_id=APP, application_secret="s")
    before = with_refresh_token(services, "t1", "rt-old")
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}, refresh_token="rt-new"))
    done = checked(ctx, "a1", "t1")
    services.secrets.fail_with = DependencyUnavailable("secretStoreUnavailable", "down")
    saved = record_many(ctx, done)
    services.secrets.fail_with = None
    assert all(t.last_verification_status is Status.SUCCEEDED for t in saved)
    assert "could not be stored" in saved[1].last_verification_message
    assert saved[1].secret_versions == before.secret_versions
    assert services.secrets.get("t1", RT, saved[1].secret_versions[RT]) == "rt-old"


def test_a_storage_failure_of_the_batch_is_raised_and_nothing_is_recorded(world):
    services, platform, ctx = world
    ctx = dataclasses.replace(ctx, customers=CountingCustomers(services.customers))
    for cid in ("a1", "a2"):
        add(services, cid, AuthMethod.APPLICATION, application_id=APP, application_secret="s")
    platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}))
    ctx.customers.fail_once = DependencyUnavailable("storageUnavailable", "down")
    with pytest.raises(DependencyUnavailable):
        record_many(ctx, checked(ctx, "a1", "a2"))
    assert [services.customers.get(c).last_verification_status for c in ("a1", "a2")] == [Status.NOT_VERIFIED] * 2
    assert services.history.list_latest("a1", limit=5) == []


def test_verification_inputs_fold_only_ascii_letter_case():
    base = Customer(customer_id="c1", tenant_id="contoso.com", authentication_method=AuthMethod.PASSWORD,
                    m365_email="admin@contoso.com")
    same = dataclasses.replace(base, tenant_id="Contoso.COM", m365_email="ADMIN@contoso.com")
    kelvin = dataclasses.replace(base, m365_email="admin@\u212aontoso.com")  # the Kelvin sign is not a "k"
    assert same_verification_inputs(same, base)
    assert not same_verification_inputs(kelvin, dataclasses.replace(base, m365_email="admin@kontoso.com"))
    assert not same_verification_inputs(dataclasses.replace(base, secret_versions={RT: "v2"}), base)
