"""The two endpoints a browser visits: /authorize (a code for the signed-in user) and /adminconsent.

There is no login page: the user who "signs in" is the login_hint, else the one set with
`IdentitySimulator.sign_in_as`, else the tenant's first user (at common/organizations, the first user
registered). What the service shows as an error page (unknown tenant or app, a redirect URI the app did not
register) is an HTML page here too; everything else goes back to the redirect URI (a 302, or a self-posting
form with response_mode=form_post), with `error`, `error_description` and `state` when it fails.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

from tools.identity_sim import aadsts
from tools.identity_sim.directory import AppRegistration, Tenant, User
from tools.identity_sim.outcomes import AadstsError, Success
from tools.identity_sim.replies import Reply, SimulatorState, aadsts_page, form_post, html_page, redirect
from tools.identity_sim.tokens import client_info

logger = logging.getLogger(__name__)

MULTI_TENANT = frozenset({"common", "organizations"})


def _respond(target: str, params: dict[str, str | None], *, mode: str | None) -> Reply:
    """Back to the client: a 302 with the query (default), or a self-posting form for response_mode=form_post."""
    return form_post(target, params) if mode == "form_post" else redirect(target, params)


def error_redirect(
    state: SimulatorState, target: str, failure: AadstsError, *, oauth_state: str | None,
    correlation_id: str | None = None, mode: str | None = None,
) -> Reply:
    """The answer of a failed sign-in or consent: `error` is the OAuth one (`access_denied` for 65004)."""
    body = aadsts.error_body(failure.code, error_uri_base=state.authority_host, correlation_id=correlation_id,
                             description=failure.description)
    error = failure.error or aadsts.REDIRECT_ERRORS.get(failure.code, aadsts.lookup(failure.code).error)
    return _respond(target, {"error": error, "error_description": body["error_description"],
                             "error_uri": body["error_uri"], "state": oauth_state}, mode=mode)


def _checked_client(
    state: SimulatorState, tenant_ref: str, query: Mapping[str, str],
) -> tuple[Tenant | None, AppRegistration, str] | Reply:
    """The tenant (None for common/organizations), app and redirect URI, or the error page the service shows."""
    tenant = state.directory.tenant(tenant_ref)
    if tenant is None and tenant_ref.casefold() not in MULTI_TENANT:
        return aadsts_page(aadsts.unknown_tenant_code(tenant_ref), state=state, tenant=tenant_ref)
    client_id = query.get("client_id", "")
    app = state.directory.app(client_id)
    if app is None:
        return aadsts_page(700016, state=state, client_id=client_id, tenant=tenant_ref)
    redirect_uri = query.get("redirect_uri", "")
    if not redirect_uri or (app.redirect_uris and redirect_uri not in app.redirect_uris):
        return aadsts_page(50011, state=state, redirect_uri=redirect_uri, client_id=app.client_id)
    return tenant, app, redirect_uri


def _signed_in(state: SimulatorState, tenant: Tenant | None, query: Mapping[str, str]) -> tuple[Tenant, User] | None:
    user = state.directory.signed_in_user(tenant.id if tenant else None, login_hint=query.get("login_hint"))
    home = state.directory.tenant(user.tenant) if user is not None else None
    if user is None or home is None or (tenant is not None and home.id != tenant.id):
        return None
    return home, user


def authorize(
    state: SimulatorState, tenant_ref: str, query: Mapping[str, str], *, scripted: AadstsError | Success | None,
    correlation_id: str | None = None,
) -> Reply:
    checked = _checked_client(state, tenant_ref, query)
    if isinstance(checked, Reply):
        return checked
    tenant, app, redirect_uri = checked
    oauth_state, mode = query.get("state"), query.get("response_mode")
    if query.get("response_type") != "code":
        return _respond(redirect_uri, {"error": "unsupported_response_type", "state": oauth_state,
                                       "error_description": "The simulator answers response_type=code only."},
                        mode=mode)
    if isinstance(scripted, AadstsError):
        return error_redirect(state, redirect_uri, scripted, oauth_state=oauth_state, correlation_id=correlation_id,
                              mode=mode)
    signed_in = _signed_in(state, tenant, query)
    if signed_in is None:
        return error_redirect(state, redirect_uri, AadstsError(50058), oauth_state=oauth_state, mode=mode)
    home, user = signed_in
    if user.disabled:
        return error_redirect(state, redirect_uri, AadstsError(50057), oauth_state=oauth_state, mode=mode)
    state.directory.install(app, home)  # the user consents to the delegated scopes in the browser
    code = state.grants.issue_code(
        tenant_id=home.id, upn=user.upn, client_id=app.client_id, redirect_uri=redirect_uri,
        scopes=tuple(query.get("scope", "").split()), code_challenge=query.get("code_challenge"),
        code_challenge_method=query.get("code_challenge_method"), nonce=query.get("nonce"))
    params = {"code": code, "state": oauth_state, "session_state": user.oid}
    if query.get("client_info") == "1":
        params["client_info"] = client_info(uid=user.oid, utid=home.id)
    logger.debug("authorize: code issued for a user of tenant %s", home.id)
    return _respond(redirect_uri, params, mode=mode)


def admin_consent(
    state: SimulatorState, tenant_ref: str, query: Mapping[str, str], *, scripted: AadstsError | Success | None,
    correlation_id: str | None = None,
) -> Reply:
    """Grants the app's application permissions in the admin's tenant and answers admin_consent=True&tenant=<id>.

    A scripted Success(tid=...) answers that tenant instead (nothing is granted there): the app must not trust it.
    """
    checked = _checked_client(state, tenant_ref, query)
    if isinstance(checked, Reply):
        return checked
    tenant, app, redirect_uri = checked
    oauth_state = query.get("state")
    if isinstance(scripted, AadstsError):
        return error_redirect(state, redirect_uri, scripted, oauth_state=oauth_state, correlation_id=correlation_id)
    signed_in = _signed_in(state, tenant, query)
    if signed_in is None:
        return html_page(400, "Sign in", "No user of this tenant is registered to sign in as its administrator.")
    home, _admin = signed_in
    state.directory.grant_admin_consent(app, home)
    answered = scripted.tid if isinstance(scripted, Success) and scripted.tid else home.id
    return redirect(redirect_uri, {"admin_consent": "True", "tenant": answered, "state": oauth_state,
                                   "scope": query.get("scope")})
