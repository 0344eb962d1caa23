"""Which endpoint a path names, the facts a scripted rule matches on, and the answer (scripted or normal)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from tools.identity_sim import aadsts, browser_endpoints, discovery, graph_api
from tools.identity_sim.client_auth import read_client
from tools.identity_sim.outcomes import AadstsError, Endpoint, Outcome, RequestFacts, ServerError, Success, Throttle
from tools.identity_sim.replies import Reply, SimulatorState, aadsts_reply, html_page, json_reply
from tools.identity_sim.token_endpoint import TokenEndpoint
from tools.identity_sim.token_issuer import audience

OTHER = "other"


@dataclass(frozen=True)
class Route:
    endpoint: Endpoint | str  # OTHER for the error page, keys and unknown paths
    tenant: str = ""
    detail: str = ""  # discovery: "v2.0" | "v1"; userrealm: the username; other: what it is


def route_for(path: str) -> Route:
    parts = [unquote(part) for part in path.split("/") if part]
    if parts[:1] == ["v1.0"]:  # Microsoft Graph; its tenant is the bearer token's
        return Route(Endpoint.GRAPH, "", "/".join(parts[1:]))
    if len(parts) >= 2 and parts[-2:] == [".well-known", "openid-configuration"]:
        if parts[1:-2] == ["v2.0"]:
            return Route(Endpoint.DISCOVERY, parts[0], "v2.0")
        if len(parts) == 3:
            return Route(Endpoint.DISCOVERY, parts[0], "v1")
    if len(parts) == 3 and parts[1].casefold() == "userrealm":
        return Route(Endpoint.USERREALM, parts[0], parts[2])
    if len(parts) in (3, 4) and parts[1] == "oauth2" and parts[2:-1] in ([], ["v2.0"]):
        if parts[-1] == "token":
            return Route(Endpoint.TOKEN, parts[0])
        if parts[-1] == "authorize":
            return Route(Endpoint.AUTHORIZE, parts[0])
    if parts[-1:] == ["adminconsent"] and len(parts) in (2, 3) and parts[1:-1] in ([], ["v2.0"]):
        return Route(Endpoint.ADMINCONSENT, parts[0])
    if parts[-1:] == ["keys"] and "discovery" in parts:
        return Route(OTHER, parts[0], "keys")
    if parts == ["error"]:
        return Route(OTHER, "", "error")
    return Route(OTHER, parts[0] if parts else "", "unknown")


def facts_for(
    state: SimulatorState, route: Route, query: Mapping[str, str], form: Mapping[str, str],
    headers: Mapping[str, str],
) -> RequestFacts:
    """What a rule can match on; the user of a refresh token or code is looked up by fingerprint."""
    endpoint = route.endpoint if isinstance(route.endpoint, Endpoint) else Endpoint.ANY
    if route.endpoint == Endpoint.GRAPH:
        claims = graph_api.bearer_claims(headers)
        tid = str(claims.get("tid") or "")
        known = state.directory.tenant(tid)
        return RequestFacts(endpoint=endpoint, tenant=tid, tenant_id=known.id if known else None,
                            user=claims.get("upn"), client_id=claims.get("appid"))
    user = None
    if route.endpoint == Endpoint.USERREALM:
        user = route.detail
        tenant = state.directory.tenant(user.rpartition("@")[2])
    else:
        tenant = state.directory.tenant(route.tenant)
    if route.endpoint == Endpoint.TOKEN:
        user = form.get("username")
        grant = state.grants.refresh_grant(form.get("refresh_token"))
        user = user or (grant.upn if grant else None)
        client_id = read_client(form, headers).client_id
    else:
        user = user or query.get("login_hint")
        client_id = query.get("client_id")
    return RequestFacts(endpoint=endpoint, tenant=route.tenant, tenant_id=tenant.id if tenant else None, user=user,
                        client_id=client_id, grant_type=form.get("grant_type"))


def answer(
    state: SimulatorState, route: Route, facts: RequestFacts, *, method: str, query: Mapping[str, str],
    form: Mapping[str, str], headers: Mapping[str, str], outcome: Outcome | None, correlation_id: str | None,
) -> Reply:
    """The reply to a request: a scripted 429 / 5xx / AADSTS error, or the endpoint's own (shaped by a Success)."""
    if route.endpoint == Endpoint.GRAPH:
        return graph_api.answer(state, route.detail, method=method, query=query, headers=headers, outcome=outcome,
                                correlation_id=correlation_id)
    if isinstance(outcome, Throttle):
        return _throttled(outcome, correlation_id)
    if isinstance(outcome, ServerError):
        return json_reply(outcome.status, {"error": "temporarily_unavailable", "error_description":
                                           f"The service is temporarily unavailable (simulated {outcome.status})."})
    scripted = outcome if isinstance(outcome, AadstsError | Success) else None
    if route.endpoint in (Endpoint.AUTHORIZE, Endpoint.ADMINCONSENT):
        handler = browser_endpoints.authorize if route.endpoint == Endpoint.AUTHORIZE else \
            browser_endpoints.admin_consent
        return handler(state, route.tenant, query, scripted=scripted, correlation_id=correlation_id)
    if isinstance(scripted, AadstsError):
        error = scripted.error
        if route.endpoint == Endpoint.DISCOVERY:
            error = error or aadsts.DISCOVERY_ERRORS.get(scripted.code)
        return aadsts_reply(scripted.code, state=state, correlation_id=correlation_id, status=scripted.status,
                            error=error, description=scripted.description, **_names(state, route, facts, form))
    if route.endpoint == Endpoint.TOKEN:
        if method != "POST":
            return aadsts_reply(900561, state=state, correlation_id=correlation_id)
        shaped = scripted if isinstance(scripted, Success) else None
        return TokenEndpoint(state).answer(route.tenant, form, headers, shaped=shaped, correlation_id=correlation_id)
    if route.endpoint == Endpoint.DISCOVERY:
        return discovery.openid_configuration(state, route.tenant, v2=route.detail == "v2.0",
                                              correlation_id=correlation_id)
    if route.endpoint == Endpoint.USERREALM:
        return discovery.user_realm(state, route.detail)
    if route.detail == "keys":
        return discovery.signing_keys()
    if route.detail == "error":
        return html_page(200, "Error", f"AADSTS{query.get('code', '')}: see the error_description of the answer.")
    return json_reply(404, {"error": "not_found", "error_description": "The simulator has no such endpoint."})


def _names(
    state: SimulatorState, route: Route, facts: RequestFacts, form: Mapping[str, str],
) -> dict[str, str]:
    """What a scripted error's description names, taken from the request, as the service would fill it in."""
    app = state.directory.app(facts.client_id)
    tenant = state.directory.tenant(facts.tenant_id or route.tenant)
    now = aadsts.timestamp()
    return {"client_id": facts.client_id or "", "app_name": app.name if app else "", "issued": now,
            "tenant": tenant.default_domain if tenant else route.tenant, "resource": audience(form.get("scope")),
            "valid_from": now, "scope": form.get("scope", ""), "grant_type": facts.grant_type or "",
            "redirect_uri": form.get("redirect_uri", ""), "param": ""}


def _throttled(outcome: Throttle, correlation_id: str | None) -> Reply:
    retry_after = ("Retry-After", str(outcome.retry_after))
    if not outcome.json_body:
        return Reply(429, b"Too Many Requests", (("Content-Type", "text/plain"), retry_after))
    return Reply(429, json.dumps({
        "error": "temporarily_unavailable",
        "error_description": f"Too many requests. Retry after {outcome.retry_after} seconds.\r\n"
                             f"Correlation ID: {correlation_id or ''}\r\nTimestamp: {aadsts.timestamp()}",
    }).encode(), (("Content-Type", "application/json; charset=utf-8"), retry_after))
