"""Verify one customer: claim a token by its method, classify the answer, and record the result (`check`, then
`record`; a run records a group of results at once with `record_many`). README, "Verification", says when a
result is written and how renewed refresh tokens are stored.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, MutableMapping, Sequence
from concurrent.futures import Executor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..domain.alerts.events import StatusEvent
from ..domain.classification import Failure, classify, failure
from ..domain.errors import SECRET_STORE_UNAVAILABLE, Conflict, DependencyUnavailable
from ..domain.expiry_credentials import secret_hint
from ..domain.expiry_record import Foresight
from ..domain.models import AuthMethod, Customer, Status
from ..domain.ports import (
    CustomerStore,
    EventLog,
    EventOutbox,
    IdentityPlatform,
    ProviderSettingsStore,
    SecretStore,
)
from ..domain.reasons import Reason
from ..domain.rules import RESULTS_PER_WRITE, is_guid
from ..domain.secrets import SecretKind
from ..domain.verification import AppCredential, TokenAnswer, VerificationResult, same_verification_inputs
from .events import event_of_result, relay
from .foresight import ForesightReads, Seen, with_foresight
from .limiter import ConcurrencyLimiter
from .provider_credential import ProviderCredential
from .secret_writes import new_versions, read_named

logger = logging.getLogger(__name__)

DEADLINE_SECONDS = 60.0
# Reasons for which the identity platform counts failed sign-ins against the account: resending the same
# password on a schedule could lock it (or keep it locked).
_LOCKOUT_REASONS = frozenset({Reason.INVALID_CREDENTIALS, Reason.ACCOUNT_LOCKED})
_WRITE_ATTEMPTS = 3

# Where a record's secret pointers go with its result: to the version read instead of the one named, or (None)
# away, as the store holds no version of it.
Pointers = Mapping[SecretKind, str | None]


@dataclass(frozen=True, slots=True)
class VerifyContext:
    customers: CustomerStore  # and, in the same writes, each customer's history
    secrets: SecretStore
    provider_settings: ProviderSettingsStore
    platform: IdentityPlatform
    limiter: ConcurrencyLimiter
    pool: Executor  # the threads that verify a run's chunks (the services own it)
    required_roles: tuple[str, ...]
    deadline_seconds: float = DEADLINE_SECONDS
    provider: ProviderCredential = field(default_factory=ProviderCredential)
    # Where the status events written with results go next (usecases/events.py); None leaves them in the outbox.
    outbox: EventOutbox | None = None
    event_log: EventLog | None = None
    foresight: ForesightReads | None = None  # None: no expiry reads, no consent drift check (usecases/foresight.py)


@dataclass(frozen=True, slots=True)
class _Attempt:
    failure: Failure | None
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    pointers: Pointers = dataclasses.field(default_factory=dict)
    seen: Seen = dataclasses.field(default_factory=Seen)


@dataclass(frozen=True, slots=True)
class ResultToRecord:
    """A verification done and not yet recorded: the record as it was read, and its result."""

    read: Customer
    result: VerificationResult
    refresh_token: str | None = dataclasses.field(default=None, repr=False)  # renewed by the platform
    pointers: Pointers = dataclasses.field(default_factory=dict)
    foresight: Foresight | None = None  # what this verification learnt of the customer's expiries


def verify_customer(ctx: VerifyContext, customer_id: str, *, in_run: bool) -> Customer | None:
    """Verify now and return the customer as stored afterwards; None when it does not exist (any more)."""
    customer = ctx.customers.get(customer_id)
    if customer is None:
        return None
    done = check(ctx, customer, in_run=in_run)
    return record(ctx, done) if isinstance(done, ResultToRecord) else done


def check(ctx: VerifyContext, customer: Customer, *, in_run: bool) -> ResultToRecord | Customer:
    """Verify a record as read, without recording the result; or, when a run must not send its password
    again, the record as stored after saying so."""
    if in_run and _password_rejected(customer):
        return _skip(ctx, customer)
    pointers: dict[SecretKind, str | None] = {}
    with ctx.limiter.slot():
        attempt = _attempt(ctx, customer, pointers)
        learnt = _learn(ctx, customer, attempt.seen, in_run=in_run)
    result = VerificationResult(
        customer_id=customer.customer_id,
        status=Status.FAILED if attempt.failure else Status.SUCCEEDED,
        verified_at=datetime.now(UTC),
        method=customer.authentication_method,
        reason=attempt.failure.reason if attempt.failure else None,
        message=attempt.failure.message if attempt.failure else None,
        aadsts_code=attempt.failure.aadsts_code if attempt.failure else None,
        hint=attempt.failure.hint if attempt.failure else None,
    )
    return ResultToRecord(customer, _noted(result, pointers), attempt.refresh_token, pointers, learnt)


def _learn(ctx: VerifyContext, customer: Customer, seen: Seen, *, in_run: bool) -> Foresight | None:
    """Foresight's reads after a verification (an operator's verify one reads Graph again; a run reads once a
    day); the provider's app is fetched for them only when GDAP_CHECK needs it and the sign-in did not use it."""
    if ctx.foresight is None:
        return None
    if ctx.foresight.gdap_check and seen.provider is None:
        seen = dataclasses.replace(seen, provider_app=ctx.provider.get(ctx.provider_settings, ctx.secrets),
                                   settings=ctx.provider.settings)
    return ctx.foresight.learn(customer, seen, force=not in_run, settings_store=ctx.provider_settings,
                               deadline=time.monotonic() + ctx.deadline_seconds)


def _noted(result: VerificationResult, pointers: Pointers) -> VerificationResult:
    """The result with a note, for the record and its history, of each secret read from another version than
    the one the record named."""
    moved = sorted(kind.value for kind, version in pointers.items() if version is not None)
    if not moved:
        return result
    note = (f"The {' and '.join(moved)} version this customer's record named was missing from the secret store "
            "(storage lost a write); the newest version still stored was used.")
    if result.message is None:
        return dataclasses.replace(result, message=note)
    return dataclasses.replace(result, hint=f"{note} {result.hint}" if result.hint else note)


def _password_rejected(customer: Customer) -> bool:
    return (customer.authentication_method is AuthMethod.PASSWORD
            and customer.last_verification_status is Status.FAILED
            and customer.last_verification_reason in _LOCKOUT_REASONS)


def _skip(ctx: VerifyContext, customer: Customer) -> Customer:
    """Lockout safety: a scheduled run or Verify All does not resend a password the platform rejected;
    storing a new password (which resets the status) or Verify now sends it again."""
    hint = ("Not sent again by scheduled runs or Verify All, so the account is not locked out: store the "
            "current password, or use Verify now.")
    if customer.hint == hint:
        return customer
    try:
        return ctx.customers.replace(customer, dataclasses.replace(customer, hint=hint))
    except Conflict:
        return ctx.customers.get(customer.customer_id) or customer


def _attempt(ctx: VerifyContext, customer: Customer, pointers: MutableMapping[SecretKind, str | None]) -> _Attempt:
    method = customer.authentication_method
    deadline = time.monotonic() + ctx.deadline_seconds
    if method is AuthMethod.APPLICATION:
        app = _customer_app(ctx, customer, pointers)
        if isinstance(app, Failure):
            return _Attempt(app)
        answer = ctx.platform.with_client_credentials(tenant=customer.tenant_id, app=app, deadline=deadline)
        own = customer.application_id == app.client_id and SecretKind.APPLICATION_SECRET in customer.secret_versions
        seen = (Seen(answer=answer, hint=secret_hint(app.secret)) if own
                else Seen(answer=answer, provider=app, settings=ctx.provider.settings))
        return _Attempt(_judge(ctx, answer, customer) or _roles_and_tenant(ctx, answer.claims or {}, customer),
                        seen=seen)

    provider = ctx.provider.get(ctx.provider_settings, ctx.secrets)
    if provider is None:
        return _Attempt(failure(
            Reason.NOT_CONFIGURED, method=method,
            message="The provider's Client Id and Client Secret are not configured.",
            hint="Set the Client Id and Client Secret of your app registration in Settings (Apply Changes).",
        ))
    if method is AuthMethod.PASSWORD:
        password = _secret(ctx, customer, SecretKind.PASSWORD, pointers)
        if password is None or not customer.m365_email:
            return _Attempt(_missing(method, "the admin's M365 email and password"))
        answer = ctx.platform.with_password(
            tenant=customer.tenant_id, app=provider, username=customer.m365_email, password=password, deadline=deadline
        )
    else:
        refresh_token = _secret(ctx, customer, SecretKind.REFRESH_TOKEN, pointers)
        if refresh_token is None:
            return _Attempt(failure(
                Reason.NOT_CONFIGURED, method=method, message="No refresh token is stored for this customer.",
                hint="Grant Consent and send the link to the customer's admin.",
            ))
        answer = ctx.platform.with_refresh_token(
            tenant=customer.tenant_id, app=provider, refresh_token=refresh_token, deadline=deadline
        )
    problem = _judge(ctx, answer, customer)
    if problem is None and method is AuthMethod.TOKEN and ctx.foresight is not None:
        problem = ctx.foresight.drift(answer)
    return _Attempt(problem, answer.refresh_token if answer.ok else None,
                    seen=Seen(answer=answer, provider=provider, settings=ctx.provider.settings))


def _customer_app(
    ctx: VerifyContext, customer: Customer, pointers: MutableMapping[SecretKind, str | None]
) -> AppCredential | Failure:
    """The customer's own app registration, or the provider's after admin consent (same client id); the
    provider's settings are read only in that second case."""
    secret = _secret(ctx, customer, SecretKind.APPLICATION_SECRET, pointers)
    if customer.application_id and secret:
        return AppCredential(customer.application_id, secret)
    provider = ctx.provider.get(ctx.provider_settings, ctx.secrets) if customer.application_id else None
    if provider is not None and customer.application_id == provider.client_id:
        return provider
    return _missing(AuthMethod.APPLICATION, "the application id and its client secret")


def _secret(
    ctx: VerifyContext, customer: Customer, kind: SecretKind, pointers: MutableMapping[SecretKind, str | None]
) -> str | None:
    """The secret the record names; `pointers` learns where the record must point instead, if anywhere."""
    version = customer.secret_versions.get(kind)
    if version is None:
        return None
    read = read_named(ctx.secrets, customer.customer_id, kind, version)
    if read.version != version:
        pointers[kind] = read.version
    return read.value


def _missing(method: AuthMethod, what: str) -> Failure:
    return failure(Reason.NOT_CONFIGURED, method=method, message=f"No {what} stored for this customer.",
                   hint=f"Update the customer with {what}.")


def _judge(ctx: VerifyContext, answer: TokenAnswer, customer: Customer) -> Failure | None:
    """None when a token was issued; else why not. Also tells the limiter how the platform answered."""
    if answer.throttled:
        ctx.limiter.throttled()
    else:
        ctx.limiter.answered()
    method = customer.authentication_method
    if answer.transport is not None:
        return failure(answer.transport, method=method, message=answer.description)
    if not answer.ok:
        return classify(answer.error_codes, answer.description or answer.error, method=method)
    return None


def _roles_and_tenant(ctx: VerifyContext, claims: Mapping[str, Any], customer: Customer) -> Failure | None:
    method = customer.authentication_method
    tid = claims.get("tid")
    if is_guid(customer.tenant_id) and tid != customer.tenant_id:
        return failure(Reason.TENANT_NOT_FOUND, method=method,
                       message=f"The token was issued for tenant {tid}, not {customer.tenant_id}.",
                       hint="Check the tenant id and the application id: they belong to different tenants.")
    roles = claims.get("roles") if isinstance(claims.get("roles"), list) else []
    missing = [role for role in ctx.required_roles if role not in roles]
    if missing:
        return failure(Reason.MISSING_PERMISSIONS, method=method,
                       message="The token lacks the application permissions " + ", ".join(missing) + ".",
                       hint="Grant " + ", ".join(missing) + " (application permission, admin consent) to the "
                            "app in the customer's tenant.")
    return None


def record(ctx: VerifyContext, done: ResultToRecord, *, run_id: str | None = None,
           held: list[list[StatusEvent]] | None = None) -> Customer:
    """Write a result onto its record and into its history (with the event it makes), in one write; the record as
    stored afterwards. The event is relayed at once, or its write added to `held` for the caller to relay."""
    read, result, refresh_token = done.read, done.result, done.refresh_token
    try:
        try:
            with new_versions(ctx.secrets, read.customer_id, {SecretKind.REFRESH_TOKEN: refresh_token}) as written:
                return _write_result(ctx, read, result, {**done.pointers, **written}, run_id, held,
                                     done.foresight)
        except DependencyUnavailable as err:
            if refresh_token is None or err.code != SECRET_STORE_UNAVAILABLE:
                raise
            # The platform renewed the refresh token but the store refused it: the record keeps the old one,
            # which still works, and the result says so.
            logger.warning("Customer %s: the renewed refresh token could not be stored.", read.customer_id)
            result = dataclasses.replace(
                result,
                message="Verified, but the renewed refresh token could not be stored; the previous one is kept.",
                hint="Check the app's access to the secret store (Key Vault).",
            )
            return _write_result(ctx, read, result, done.pointers, run_id, held, done.foresight)
    except Conflict:
        # The customer's inputs changed while it was verified: that change wins and this result is dropped
        # (the new refresh token version, if any, was retired on the way out).
        logger.info("Customer %s changed during its verification; the result is dropped.", read.customer_id)
        return ctx.customers.get(read.customer_id) or read


def record_many(ctx: VerifyContext, done: Sequence[ResultToRecord], *, run_id: str | None = None,
                held: list[list[StatusEvent]] | None = None) -> list[Customer]:
    """`record` for several results, with one write for all their records when none changed since it was read
    (the usual case in a run: a few round trips per group instead of several per customer). Otherwise (one
    changed, or the secret store refused a renewed token) each is recorded on its own, as `record` does."""
    if len(done) > RESULTS_PER_WRITE:
        return [*record_many(ctx, done[:RESULTS_PER_WRITE], run_id=run_id, held=held),
                *record_many(ctx, done[RESULTS_PER_WRITE:], run_id=run_id, held=held)]
    if len(done) > 1:
        try:
            with ExitStack() as stack:
                changes, expiring = [], []
                for one in done:
                    renewed = {SecretKind.REFRESH_TOKEN: one.refresh_token}
                    written = stack.enter_context(new_versions(ctx.secrets, one.read.customer_id, renewed))
                    updated, warnings = with_foresight(one.read, _with_result(one.read, one.result, {
                        **one.pointers, **written}), one.foresight, now=one.result.verified_at, run_id=run_id)
                    changes.append((one.read, updated))
                    expiring.extend(warnings)
                events = [e for one in done if (e := event_of_result(one.read, one.result, run_id=run_id))]
                events.extend(warning.event for warning in expiring)
                saved = ctx.customers.replace_many(changes, events=events, results=[one.result for one in done])
        except Conflict:
            pass  # its new versions were retired on the way out; each again on its own, below
        except DependencyUnavailable as err:
            if err.code != SECRET_STORE_UNAVAILABLE:
                raise
        else:
            _relay(ctx, events, held)
            return saved
    return [record(ctx, one, run_id=run_id, held=held) for one in done]


def _write_result(ctx: VerifyContext, read: Customer, result: VerificationResult, pointers: Pointers,
                  run_id: str | None, held: list[list[StatusEvent]] | None,
                  learnt: Foresight | None = None) -> Customer:
    """Write the result (and the record's new secret pointers) onto the record and into its history, if the
    record's verification inputs are still those read; Conflict otherwise."""
    current = read
    for _ in range(_WRITE_ATTEMPTS):
        updated, warnings = with_foresight(current, _with_result(current, result, pointers), learnt,
                                           now=result.verified_at, run_id=run_id)
        event = event_of_result(current, result, run_id=run_id)
        events = [event] if event is not None else []
        events.extend(warning.event for warning in warnings)
        try:
            saved = ctx.customers.replace(current, updated, events=events, result=result)
        except Conflict:
            fresh = ctx.customers.get(read.customer_id)
            if fresh is None or not same_verification_inputs(fresh, read):
                raise
            current = fresh  # only the status fields changed (another verification): write over them
            continue
        _relay(ctx, events, held)
        return saved
    raise Conflict("modifiedConcurrently", f"The customer {read.customer_id!r} kept changing; try again.")


def _relay(ctx: VerifyContext, events: Sequence[StatusEvent], held: list[list[StatusEvent]] | None) -> None:
    if not events:
        return
    if held is not None:
        held.append(list(events))
    else:
        relay_written(ctx, [events])


def relay_written(ctx: VerifyContext, writes: Sequence[Sequence[StatusEvent]]) -> None:
    """Relay the events of writes this invocation made, each write's as it handed them to the store (relay)."""
    if writes and ctx.outbox is not None and ctx.event_log is not None:
        relay(ctx.outbox, ctx.event_log, writes)


def _with_result(customer: Customer, result: VerificationResult, pointers: Pointers) -> Customer:
    versions = {**customer.secret_versions, **pointers}
    return dataclasses.replace(customer.with_result(result), secret_versions={
        kind: version for kind, version in versions.items() if version is not None})
