"""Consent: hand out a Grant Consent link, and complete it when Microsoft redirects the admin back.

A link's state is random, kept only as its hash, single-use and valid for 15 minutes; the MSAL flow that
redeems its code (PKCE verifier, nonce) is a secret of the customer until then. A completed consent follows
the secret write rule and is verified at once.
"""
from __future__ import annotations

import dataclasses
import secrets as random_source
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..domain.classification import classify, failure
from ..domain.consent import CONSENT_TTL, ConsentLink, ConsentOutcome, ConsentPlatform, ConsentStates, state_hash
from ..domain.errors import Conflict
from ..domain.models import AuthMethod, PendingConsent, ProviderSecret, Status, Tenant, VerificationResult
from ..domain.reasons import Reason
from ..domain.rules import is_guid
from ..domain.secrets import SecretName
from ..domain.verification import AppCredential
from .secret_writes import new_versions, replaced, retire_quietly
from .tenants import get_tenant
from .verify import VerifyContext, verify_tenant


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
    tenant = get_tenant(v.tenants, customer_id)
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
    now = now or datetime.now(UTC)
    state = random_source.token_urlsafe(32)
    flow_secret: str | None = None
    if method is AuthMethod.TOKEN:
        request = ctx.platform.authorization_request(
            tenant=tenant.tenant_id, client_id=settings.client_id, client_secret=secret,
            redirect_uri=settings.redirect_url, scopes=ctx.scopes, state=state, login_hint=login_hint)
        url, flow_secret = request.url, request.flow
    else:
        url = ctx.platform.admin_consent_url(tenant=tenant.tenant_id, client_id=settings.client_id,
                                             redirect_uri=settings.redirect_url, scope=ctx.application_scope,
                                             state=state)
    expires_at = now + CONSENT_TTL
    with new_versions(v.secrets, customer_id, {SecretName.CONSENT_FLOW: flow_secret}) as written:
        ctx.states.add(state_hash(state), customer_id=customer_id, expires_at=expires_at)
        pending = PendingConsent(method=method, created_at=now, expires_at=expires_at, state_hash=state_hash(state),
                                 flow_version=written.get(SecretName.CONSENT_FLOW))
        v.tenants.update(tenant, dataclasses.replace(tenant, pending_consent=pending))
    _retire_flow(v, tenant)
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
    tenant = v.tenants.get(claimed.customer_id)
    pending = tenant.pending_consent if tenant else None
    if tenant is None or pending is None or pending.state_hash != state_hash(state):
        return _refused("This consent link was replaced by a newer one, or its customer is gone.", claimed.customer_id)
    if claimed.expires_at <= now:
        _clear_pending(v, tenant)
        return _refused("This consent link expired (links last 15 minutes). Ask for a new one.", tenant.customer_id)
    if params.get("error"):
        return _declined(v, tenant, params)
    if pending.method is AuthMethod.TOKEN and params.get("code"):
        return _redeem(ctx, tenant, pending, params)
    if pending.method is AuthMethod.APPLICATION and params.get("admin_consent", "").lower() == "true":
        return _admin_consent(ctx, tenant, params.get("tenant", ""))
    _clear_pending(v, tenant)
    return _refused("The answer from Microsoft holds neither a consent nor an error.", tenant.customer_id)


def _provider(v: VerifyContext) -> AppCredential | None:
    return v.provider.get(v.provider_settings, v.secrets)


def _redeem(ctx: ConsentContext, tenant: Tenant, pending: PendingConsent, params: Mapping[str, str]) -> ConsentOutcome:
    v = ctx.verification
    provider = _provider(v)
    flow = v.secrets.get(tenant.customer_id, SecretName.CONSENT_FLOW, pending.flow_version or "")
    if provider is None or flow is None:
        _clear_pending(v, tenant)
        return _refused("The provider's settings changed since the link was made. Ask for a new link.",
                        tenant.customer_id)
    answer = ctx.platform.redeem_code(tenant=tenant.tenant_id, app=provider, flow=flow, response=dict(params),
                                      deadline=time.monotonic() + v.deadline_seconds)
    if not answer.ok or not answer.refresh_token:
        found = classify(answer.error_codes, answer.description or answer.error, method=AuthMethod.TOKEN)
        return _failed(v, tenant, found.reason, found.message, found.aadsts_code, found.hint)
    identity = answer.identity or {}
    tid, who = str(identity.get("tid") or ""), identity.get("preferred_username")
    if is_guid(tenant.tenant_id) and tid != tenant.tenant_id:
        return _refused(f"The admin who consented belongs to tenant {tid}, not to this customer's tenant "
                        f"{tenant.tenant_id}. Nothing was stored.", tenant.customer_id)
    with new_versions(v.secrets, tenant.customer_id, {SecretName.REFRESH_TOKEN: answer.refresh_token}) as written:
        switched = dataclasses.replace(
            tenant, authentication_method=AuthMethod.TOKEN, tenant_id=tid or tenant.tenant_id,
            m365_email=who if isinstance(who, str) else tenant.m365_email, pending_consent=None,
            secret_versions={**tenant.secret_versions, **written}, updated_at=datetime.now(UTC),
        ).not_verified()
        saved = v.tenants.update(tenant, switched)
    retire_quietly(v.secrets, tenant.customer_id, replaced(tenant.secret_versions, saved.secret_versions))
    _retire_flow(v, tenant)
    return _verified(v, saved, f"{who or 'The admin'} granted consent for customer {tenant.customer_id}.")


def _admin_consent(ctx: ConsentContext, tenant: Tenant, returned: str) -> ConsentOutcome:
    v = ctx.verification
    provider = _provider(v)
    if provider is None:
        _clear_pending(v, tenant)
        return _refused("The provider's settings changed since the link was made. Ask for a new link.",
                        tenant.customer_id)
    # The tenant Microsoft names is not trusted on its own: a token is claimed for it and its tid checked.
    answer = v.platform.with_client_credentials(tenant=returned or "organizations", app=provider,
                                                deadline=time.monotonic() + v.deadline_seconds)
    tid = str((answer.claims or {}).get("tid") or "")
    if not answer.ok or not returned or tid != returned or (is_guid(tenant.tenant_id) and tid != tenant.tenant_id):
        return _refused("The consent could not be confirmed for this customer's tenant: a token for it was not "
                        "issued to the provider's app. Nothing was stored.", tenant.customer_id)
    switched = dataclasses.replace(tenant, authentication_method=AuthMethod.APPLICATION, tenant_id=tid,
                                   application_id=provider.client_id, pending_consent=None,
                                   updated_at=datetime.now(UTC)).not_verified()
    saved = v.tenants.update(tenant, switched)
    _retire_flow(v, tenant)
    return _verified(v, saved, f"The admin of tenant {tid} granted consent to the provider's app for customer "
                               f"{tenant.customer_id}.")


def _declined(v: VerifyContext, tenant: Tenant, params: Mapping[str, str]) -> ConsentOutcome:
    description = params.get("error_description") or params.get("error")
    found = classify(None, description, method=tenant.authentication_method)
    if found.reason is Reason.UNKNOWN_ERROR or params.get("error") == "access_denied":
        found = failure(Reason.CONSENT_DENIED, message=description, aadsts_code=found.aadsts_code,
                        method=tenant.authentication_method)
    return _failed(v, tenant, found.reason, found.message, found.aadsts_code, found.hint)


def _failed(v: VerifyContext, tenant: Tenant, reason: Reason, message: str | None, code: int | None,
            hint: str | None) -> ConsentOutcome:
    """The consent did not happen: say so on the customer's status; its working connection is kept."""
    result = VerificationResult(customer_id=tenant.customer_id, status=Status.FAILED, verified_at=datetime.now(UTC),
                                method=tenant.authentication_method, reason=reason, message=message,
                                aadsts_code=code, hint=hint)
    try:
        saved = v.tenants.update(tenant, dataclasses.replace(tenant.with_result(result), pending_consent=None))
        v.history.append(result)
    except Conflict:
        saved = tenant
    _retire_flow(v, tenant)
    return ConsentOutcome(400 if reason is not Reason.CONSENT_DENIED else 200, "Consent was not granted",
                          (f"Customer {tenant.customer_id}: {reason.value}.", message or "", f"What to do: {hint}"),
                          tenant.customer_id, saved)


def _verified(v: VerifyContext, tenant: Tenant, said: str) -> ConsentOutcome:
    checked = verify_tenant(v, tenant.customer_id, in_run=False) or tenant
    status = checked.last_verification_status.value
    why = f" ({checked.last_verification_reason.value})" if checked.last_verification_reason else ""
    return ConsentOutcome(200, "Consent granted", (said, f"Verified just now: {status}{why}."),
                          tenant.customer_id, checked)


def _refused(why: str, customer_id: str | None = None) -> ConsentOutcome:
    return ConsentOutcome(400, "This consent link cannot be used", (why,), customer_id)


def _clear_pending(v: VerifyContext, tenant: Tenant) -> None:
    try:
        v.tenants.update(tenant, dataclasses.replace(tenant, pending_consent=None))
    except Conflict:
        return
    _retire_flow(v, tenant)


def _retire_flow(v: VerifyContext, tenant: Tenant) -> None:
    """The flow of the link `tenant` held is of no use any more (used, replaced or expired)."""
    pending = tenant.pending_consent
    if pending is not None and pending.flow_version:
        retire_quietly(v.secrets, tenant.customer_id, {SecretName.CONSENT_FLOW: pending.flow_version})


# A state that expired unused still answers "expired" (not "unknown") for this long; then maintenance forgets it.
EXPIRED_STATES_KEPT = timedelta(days=1)


def forget_expired_states(states: ConsentStates, *, now: datetime | None = None) -> int:
    """Maintenance: remove the states of links that expired unused (one row per link handed out, else kept
    for good); how many."""
    return states.remove_expired(expired_before=(now or datetime.now(UTC)) - EXPIRED_STATES_KEPT)
