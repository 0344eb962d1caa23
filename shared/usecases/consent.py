"""Consent: hand out a Grant Consent link, and complete it when Microsoft redirects the admin back (README,
"Consent").
"""
from __future__ import annotations

import dataclasses
import logging
import secrets as random_source
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..domain.classification import aadsts_code, classify
from ..domain.consent import (
    CONSENT_TTL,
    ConsentLink,
    ConsentOutcome,
    ConsentOutcomeKind,
    consent_description,
    state_hash,
)
from ..domain.errors import Conflict, DependencyUnavailable
from ..domain.models import AuthMethod, ConsentResult, Customer, LastConsent, PendingConsent
from ..domain.ports import ConsentPlatform, ConsentStates
from ..domain.rules import is_email, is_guid
from ..domain.secrets import ProviderSecret, SecretKind
from ..domain.verification import AppCredential, same_tenant
from .customers import get_customer
from .secret_writes import new_versions, retire_quietly
from .verify import VerifyContext, verify_customer

logger = logging.getLogger(__name__)

DECLINED_CODE = 65004  # AADSTS65004: the admin declined to consent


@dataclass(frozen=True, slots=True)
class ConsentContext:
    verification: VerifyContext
    states: ConsentStates
    platform: ConsentPlatform
    scopes: tuple[str, ...]  # CONSENT_SCOPES
    application_scope: str  # <graph>/.default, for admin consent


def start_consent(
    ctx: ConsentContext, customer_id: str, *, method: AuthMethod, login_hint: str | None, now: datetime | None = None
) -> ConsentLink:
    v = ctx.verification
    customer = get_customer(v.customers, customer_id)
    settings = v.provider_settings.get()
    if settings is None or not settings.client_id:
        raise Conflict("clientIdNotConfigured", "Set the Client Id of your app registration in Settings "
                       "(PUT /api/settings, Apply Changes) before asking for consent.")
    if settings.client_secret_version is None:
        raise Conflict("clientSecretNotConfigured", "Set the Client Secret of your app registration in Settings "
                       "(PUT /api/settings, Apply Changes) before asking for consent.")
    if not settings.redirect_url:
        raise Conflict("redirectUrlNotConfigured", "Set the Redirect URL (https://<this host>/authenticate/"
                       "OAuth2Callback) in Settings before asking for consent.")
    secret = v.secrets.get(None, ProviderSecret.CLIENT_SECRET, settings.client_secret_version)
    if secret is None:
        raise Conflict("clientSecretNotConfigured",
                       "The stored Client Secret cannot be read: set it again in Settings.")
    if not is_guid(customer.tenant_id) and ctx.platform.tenant_of_domain(
            customer.tenant_id, deadline=time.monotonic() + v.deadline_seconds) is None:
        # The callback could not bind a consent to it: say so now rather than after the admin consented.
        raise Conflict("invalidTenantId", f"The identity platform does not know the domain {customer.tenant_id}; "
                       "check the customer's tenant id.")
    now = now or datetime.now(UTC)
    state = random_source.token_urlsafe(32)
    flow_secret: str | None = None
    if method is AuthMethod.TOKEN:
        request = ctx.platform.authorization_request(
            tenant=customer.tenant_id, client_id=settings.client_id, client_secret=secret,
            redirect_uri=settings.redirect_url, scopes=ctx.scopes, state=state, login_hint=login_hint)
        url, flow_secret = request.url, request.flow
    else:
        url = ctx.platform.admin_consent_url(tenant=customer.tenant_id, client_id=settings.client_id,
                                             redirect_uri=settings.redirect_url, scope=ctx.application_scope,
                                             state=state)
    expires_at = now + CONSENT_TTL
    with new_versions(v.secrets, customer_id, {SecretKind.CONSENT_FLOW: flow_secret}) as written:
        ctx.states.create(state_hash(state), customer_id=customer_id, expires_at=expires_at)
        pending = PendingConsent(method=method, created_at=now, expires_at=expires_at, state_hash=state_hash(state),
                                 flow_version=written.get(SecretKind.CONSENT_FLOW))
        v.customers.replace(customer, dataclasses.replace(customer, pending_consent=pending))
    _retire_flow(v, customer)
    return ConsentLink(authorization_url=url, expires_at=expires_at)


def complete_consent(ctx: ConsentContext, params: Mapping[str, str], *, now: datetime | None = None) -> ConsentOutcome:
    now = now or datetime.now(UTC)
    state = params.get("state")
    if not state:
        return _refused("The answer from Microsoft carries no state: it did not come from a Grant Consent link.")
    claimed = ctx.states.claim(state_hash(state))
    if claimed is None:
        return _refused("This consent link is unknown or was used already. Ask for a new Grant Consent link.")
    v = ctx.verification
    customer = v.customers.get(claimed.customer_id)
    pending = customer.pending_consent if customer else None
    if customer is None or pending is None or pending.state_hash != state_hash(state):
        return _refused("This consent link was replaced by a newer one, or its customer is gone.", claimed.customer_id)
    if claimed.expires_at <= now:
        _end_link(v, customer, None)
        return _refused("This consent link expired (links last 15 minutes). Ask for a new one.", customer.customer_id)
    attempt = _Attempt(v, customer, pending.method, now)
    if params.get("error"):
        return _declined(attempt, params)
    if pending.method is AuthMethod.TOKEN and params.get("code"):
        bound = _bound_tenant(ctx, attempt)
        return bound if isinstance(bound, ConsentOutcome) else _redeem(ctx, attempt, bound, pending, params)
    if pending.method is AuthMethod.APPLICATION and params.get("admin_consent", "").lower() == "true":
        bound = _bound_tenant(ctx, attempt)
        return bound if isinstance(bound, ConsentOutcome) else _admin_consent(attempt, bound, params.get("tenant"))
    return attempt.refused("The answer from Microsoft holds neither a consent nor an error.")


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One callback that used up a customer's link: whatever it brings ends the link and becomes lastConsent."""

    v: VerifyContext
    customer: Customer  # as read when the link was claimed
    method: AuthMethod
    at: datetime

    @property
    def customer_id(self) -> str:
        return self.customer.customer_id

    def granted(self, message: str) -> LastConsent:
        return LastConsent(ConsentResult.GRANTED, self.method, self.at, message)

    def refused(self, why: str, *, kind: ConsentOutcomeKind = ConsentOutcomeKind.REFUSED) -> ConsentOutcome:
        """Nothing of the consent is kept: the connection stays as it was; the link is used up all the same."""
        return self.not_granted(ConsentResult.FAILED, why, kind=kind, title="This consent link cannot be used",
                                lines=(why, "The customer's connection is unchanged."))

    def not_granted(self, outcome: ConsentResult, message: str | None, *, kind: ConsentOutcomeKind, title: str,
                    lines: tuple[str, ...]) -> ConsentOutcome:
        saved = _end_link(self.v, self.customer, LastConsent(outcome, self.method, self.at, message))
        logger.info("Consent for customer %s: %s (%s).", self.customer_id, outcome.value, self.method.value)
        return ConsentOutcome(kind, title, lines, self.customer_id, saved)


def _provider(v: VerifyContext) -> AppCredential | None:
    return v.provider.get(v.provider_settings, v.secrets)


def _bound_tenant(ctx: ConsentContext, attempt: _Attempt) -> str | ConsentOutcome:
    """The one tenant id this customer's consent may come from: its tenantId when a GUID, else the tenant its
    domain resolves to now. A domain that cannot be resolved binds to nothing: the callback is refused."""
    tenant_id = attempt.customer.tenant_id
    if is_guid(tenant_id):
        return tenant_id.lower()
    try:
        resolved = ctx.platform.tenant_of_domain(tenant_id, deadline=time.monotonic() + attempt.v.deadline_seconds)
    except DependencyUnavailable:
        return attempt.refused(f"The Microsoft identity platform could not be reached to confirm which tenant "
                               f"{tenant_id} belongs to. Nothing was stored; ask for a new link in a moment.",
                               kind=ConsentOutcomeKind.UNAVAILABLE)
    if resolved is None:
        return attempt.refused(f"The Microsoft identity platform does not know the domain {tenant_id}, so this "
                               f"consent cannot be bound to the customer's tenant. Nothing was stored; check the "
                               f"customer's Tenant Id.")
    return resolved


def _redeem(ctx: ConsentContext, attempt: _Attempt, bound: str, pending: PendingConsent,
            params: Mapping[str, str]) -> ConsentOutcome:
    v, customer = ctx.verification, attempt.customer
    provider = _provider(v)
    flow = (v.secrets.get(customer.customer_id, SecretKind.CONSENT_FLOW, pending.flow_version)
            if pending.flow_version else None)
    if provider is None or flow is None:
        return attempt.refused("The provider's settings changed since the link was made. Ask for a new link.")
    answer = ctx.platform.redeem_code(tenant=customer.tenant_id, app=provider, flow=flow, response=dict(params),
                                      deadline=time.monotonic() + v.deadline_seconds)
    if not answer.ok or not answer.refresh_token:
        if answer.transport is not None:
            return attempt.refused(f"{answer.description} Nothing was stored; ask for a new link.",
                                   kind=ConsentOutcomeKind.UNAVAILABLE)
        found = classify(answer.error_codes, answer.description or answer.error, method=AuthMethod.TOKEN)
        message = consent_description(found.message) or "Microsoft issued no refresh token for this consent."
        return attempt.not_granted(ConsentResult.FAILED, message, kind=ConsentOutcomeKind.FAILED,
                                   title="Consent did not complete",
                                   lines=(f"Customer {customer.customer_id}: the consent did not complete.", message,
                                          "The customer's connection is unchanged. Ask for a new link."))
    identity = answer.identity or {}
    tid = str(identity.get("tid") or "").lower()
    if tid != bound:
        return attempt.refused(f"The admin who consented belongs to tenant {tid or '(none named)'}, not to this "
                               f"customer's tenant {customer.tenant_id}. Nothing was stored.")
    email = _email(identity.get("preferred_username"), customer.customer_id)
    said = f"{email or 'The admin'} granted consent for customer {customer.customer_id}."
    try:
        with new_versions(v.secrets, customer.customer_id, {SecretKind.REFRESH_TOKEN: answer.refresh_token}) as written:
            saved = _grant(attempt, lambda current: dataclasses.replace(
                current, authentication_method=AuthMethod.TOKEN, tenant_id=bound,
                m365_email=email or current.m365_email, secret_versions={**current.secret_versions, **written},
                last_consent=attempt.granted(said)))
    except _NotGranted:
        return attempt.refused(_CHANGED_MEANWHILE)
    # The refresh token it replaced is left to the sweep, as every replaced version is (secret_writes).
    _retire_flow(v, customer)
    return _verified(v, saved, said)


_CHANGED_MEANWHILE = ("The customer was deleted, or its Tenant Id changed, while consent was being given. Nothing "
                      "was stored; ask for a new link.")


class _NotGranted(Exception):
    """The record moved on (deleted, or another tenant) while the consent was redeemed: the consent does not
    apply to it any more. Raised inside new_versions, so the secret written for it is retired."""


def _grant(attempt: _Attempt, switch: Callable[[Customer], Customer]) -> Customer:
    """Write a granted consent: `switch` applied to the record, the link used up, as never verified. The code
    was redeemed once and cannot be again, so a record written meanwhile (a verification's result, an edit of
    the email) is read again and the consent applied to it, as long as it is the same customer in the same
    tenant; else _NotGranted and nothing is written."""
    v, current, used = attempt.v, attempt.customer, attempt.customer.pending_consent
    for _ in range(_END_LINK_ATTEMPTS):
        pending = None if current.pending_consent == used else current.pending_consent
        granted = dataclasses.replace(switch(current), pending_consent=pending,
                                      updated_at=datetime.now(UTC)).not_verified()
        try:
            return v.customers.replace(current, granted)
        except Conflict:
            fresh = v.customers.get(current.customer_id)
            if fresh is None or not same_tenant(fresh.tenant_id, attempt.customer.tenant_id):
                raise _NotGranted from None
            current = fresh
    raise Conflict("modifiedConcurrently", "The customer's record kept changing while the consent was recorded.")


def _email(claim: object, customer_id: str) -> str | None:
    """The ID token's preferred_username when it is an email address as a PUT would take it; else None, and the
    M365 Email stays as it was."""
    email = claim.strip() if isinstance(claim, str) else None
    if email is not None and is_email(email):
        return email
    if claim is not None:
        logger.warning("Consent for customer %s: the ID token's user name is not an email address; the M365 Email "
                       "is kept.", customer_id)
    return None


def _admin_consent(attempt: _Attempt, bound: str, returned: str | None) -> ConsentOutcome:
    v, customer = attempt.v, attempt.customer
    returned = (returned or "").strip().lower()
    if returned != bound:
        named = f"tenant {returned}" if is_guid(returned) else "no tenant this customer has"
        return attempt.refused(f"The consent was given in {named}, not in this customer's tenant "
                               f"{customer.tenant_id}. Nothing was stored.")
    provider = _provider(v)
    if provider is None:
        return attempt.refused("The provider's settings changed since the link was made. Ask for a new link.")
    # The tenant Microsoft names is not trusted on its own: a token is claimed for it and its tid checked.
    answer = v.platform.with_client_credentials(tenant=bound, app=provider,
                                                deadline=time.monotonic() + v.deadline_seconds)
    if answer.transport is not None:
        return attempt.refused(f"{answer.description} The consent could not be confirmed; nothing was stored. Ask "
                               "for a new link.", kind=ConsentOutcomeKind.UNAVAILABLE)
    if not answer.ok or str((answer.claims or {}).get("tid") or "").lower() != bound:
        return attempt.refused("The consent could not be confirmed for this customer's tenant: a token for it was "
                               "not issued to the provider's app. Nothing was stored.")
    said = f"The admin of tenant {bound} granted consent to the provider's app for customer {customer.customer_id}."
    try:
        saved = _grant(attempt, lambda current: dataclasses.replace(
            current, authentication_method=AuthMethod.APPLICATION, tenant_id=bound, application_id=provider.client_id,
            last_consent=attempt.granted(said)))
    except _NotGranted:
        return attempt.refused(_CHANGED_MEANWHILE)
    _retire_flow(v, customer)
    return _verified(v, saved, said)


def _declined(attempt: _Attempt, params: Mapping[str, str]) -> ConsentOutcome:
    """The admin said no, or Microsoft answered an error: a fact about this consent, never about the
    connection, whose status stays as it was. Only an access_denied that is not another AADSTS error (such as a
    Conditional Access block) is a refusal by the admin."""
    error = params.get("error") or ""
    description = consent_description(params.get("error_description")) or consent_description(error)
    code = aadsts_code(None, description)
    declined = error == "access_denied" and code in (None, DECLINED_CODE)
    said = "the admin declined consent" if declined else "the consent did not complete"
    return attempt.not_granted(
        ConsentResult.DECLINED if declined else ConsentResult.FAILED, description,
        kind=ConsentOutcomeKind.DECLINED if declined else ConsentOutcomeKind.FAILED, title="Consent was not granted",
        lines=(f"Customer {attempt.customer_id}: {said}.", description or "", "The customer's connection is unchanged.",
               "What to do: to grant consent after all, ask the service provider for a new link."))


def _verified(v: VerifyContext, customer: Customer, said: str) -> ConsentOutcome:
    checked = verify_customer(v, customer.customer_id, in_run=False) or customer
    status = checked.last_verification_status.value
    why = f" ({checked.last_verification_reason.value})" if checked.last_verification_reason else ""
    logger.info("Consent for customer %s: granted (%s).", customer.customer_id, customer.authentication_method.value)
    return ConsentOutcome(ConsentOutcomeKind.GRANTED, "Consent granted", (said, f"Verified just now: {status}{why}."),
                          customer.customer_id, checked)


def _refused(why: str, customer_id: str | None = None) -> ConsentOutcome:
    """A callback that used up no link of the customer's (none, or not the current one): nothing changes."""
    return ConsentOutcome(ConsentOutcomeKind.REFUSED, "This consent link cannot be used", (why,), customer_id)


_END_LINK_ATTEMPTS = 3


def _end_link(v: VerifyContext, customer: Customer, last: LastConsent | None) -> Customer:
    """The link `customer` held is used up: pendingConsent goes (unless a newer link replaced it meanwhile) and
    `last`, when given, becomes lastConsent; nothing else of the record changes. A record written meanwhile (a
    verification's result) is read again, so the answer is recorded all the same."""
    used, current = customer.pending_consent, customer
    for _ in range(_END_LINK_ATTEMPTS):
        pending = None if current.pending_consent == used else current.pending_consent
        ended = dataclasses.replace(current, pending_consent=pending,
                                    last_consent=last if last is not None else current.last_consent)
        try:
            saved = v.customers.replace(current, ended)
        except Conflict:
            fresh = v.customers.get(customer.customer_id)
            if fresh is None:
                return customer
            current = fresh
            continue
        _retire_flow(v, customer)
        return saved
    logger.warning("Consent for customer %s: the record kept changing; the consent answer was not recorded.",
                   customer.customer_id)
    return current


def _retire_flow(v: VerifyContext, customer: Customer) -> None:
    """The flow of the link `customer` held is of no use any more (used, replaced or expired)."""
    pending = customer.pending_consent
    if pending is not None and pending.flow_version:
        retire_quietly(v.secrets, customer.customer_id, {SecretKind.CONSENT_FLOW: pending.flow_version})


# A state that expired unused still answers "expired" (not "unknown") for this long; then maintenance forgets it.
EXPIRED_STATES_KEPT = timedelta(days=1)


def forget_expired_states(states: ConsentStates, *, now: datetime | None = None) -> int:
    """Maintenance: remove the states of links that expired unused (one row per link handed out, else kept
    for good); how many."""
    return states.delete_expired(expired_before=(now or datetime.now(UTC)) - EXPIRED_STATES_KEPT)
