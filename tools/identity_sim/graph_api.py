"""Microsoft Graph v1.0, the part the app reads for foresight, on the simulator's own host (GRAPH_ENDPOINT =
the authority host):

- `GET /v1.0/applications(appId='{id}')[?$select=passwordCredentials,keyCredentials]`: the application object in
  the token's tenant (its `home_tenant`), with each secret's keyId, hint, displayName, start and end;
- `GET /v1.0/tenantRelationships/delegatedAdminRelationships[?$top=N]`: the token's tenant is the partner; pages
  of `$top` (at most 300, as Graph; else the simulator's page size) linked by `@odata.nextLink` (`$skiptoken`).

A bearer token is accepted only when this simulator signed it, for Microsoft Graph (`aud`), unexpired, with a
registered `tid`; else 401 `InvalidAuthenticationToken`. The permission comes from the token's `roles` (app
only) or `scp` (delegated): Application.Read.All (or a higher one) for applications, DelegatedAdminRelationship.
Read.All (or ReadWrite) for relationships; else 403 `Authorization_RequestDenied`. An unknown application is
404 `Request_ResourceNotFound`. Error bodies have Graph's shape: `{"error": {"code", "message", "innerError":
{"date", "request-id", "client-request-id"}}}`. Dates are ISO 8601 UTC with up to seven fractional digits, as
Graph writes them.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tools.identity_sim.directory import AppRegistration, Tenant
from tools.identity_sim.outcomes import GraphError, Outcome, ServerError, Throttle
from tools.identity_sim.replies import Reply, SimulatorState, json_reply
from tools.identity_sim.token_issuer import GRAPH_APP_ID
from tools.identity_sim.tokens import decode_claims, verified_claims

GRAPH_AUDIENCES = frozenset({"https://graph.microsoft.com", "https://graph.microsoft.com/", GRAPH_APP_ID})
READ_APPLICATIONS = frozenset(name.casefold() for name in (
    "Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"))
READ_RELATIONSHIPS = frozenset(name.casefold() for name in (
    "DelegatedAdminRelationship.Read.All", "DelegatedAdminRelationship.ReadWrite.All"))
APPLICATION_PROPERTIES = ("id", "appId", "displayName", "passwordCredentials", "keyCredentials")
MAX_TOP = 300
RELATIONSHIPS_PATH = "tenantRelationships/delegatedAdminRelationships"
_APPLICATION = re.compile(r"applications\(appId='([^'/]*)'\)")
_SERVER_CODES = {503: "serviceNotAvailable", 504: "timeout"}


def bearer_claims(headers: Mapping[str, str]) -> dict[str, Any]:
    """The bearer token's claims unverified, for matching scripted rules and the recording; {} without one."""
    token = _bearer(headers)
    try:
        claims = decode_claims(token) if token else {}
    except (ValueError, IndexError):
        return {}
    return claims if isinstance(claims, dict) else {}


def answer(
    state: SimulatorState, path: str, *, method: str, query: Mapping[str, str], headers: Mapping[str, str],
    outcome: Outcome | None, correlation_id: str | None,
) -> Reply:
    if isinstance(outcome, Throttle):
        if not outcome.json_body:
            return Reply(429, b"Too Many Requests", (("Content-Type", "text/plain"),
                                                      ("Retry-After", str(outcome.retry_after))))
        return graph_error(429, "TooManyRequests", "Too many requests.", correlation_id,
                           ("Retry-After", str(outcome.retry_after)))
    if isinstance(outcome, ServerError):
        return graph_error(outcome.status, _SERVER_CODES.get(outcome.status, "generalException"),
                           f"The service is temporarily unavailable (simulated {outcome.status}).", correlation_id)
    if isinstance(outcome, GraphError):
        return graph_error(outcome.status, outcome.code, outcome.message, correlation_id)
    if method not in ("GET", "HEAD"):
        return graph_error(405, "Request_BadRequest", f"The method {method} is not allowed here.", correlation_id)
    caller = _caller(state, headers, correlation_id)
    if isinstance(caller, Reply):
        return caller
    claims, tenant = caller
    found = _APPLICATION.fullmatch(path)
    if found:
        if not _holds(claims, READ_APPLICATIONS):
            return _denied(correlation_id)
        return _application(state, tenant, found.group(1), query, correlation_id)
    if path == RELATIONSHIPS_PATH:
        if not _holds(claims, READ_RELATIONSHIPS):
            return _denied(correlation_id)
        return _relationships(state, tenant, query, correlation_id)
    return graph_error(400, "BadRequest", f"Resource not found for the segment '{path.split('/')[0]}'.",
                       correlation_id)


def graph_error(status: int, code: str, message: str, correlation_id: str | None, *headers: tuple[str, str]) -> Reply:
    request_id = str(uuid.uuid4())
    return json_reply(status, {"error": {"code": code, "message": message, "innerError": {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id,
        "client-request-id": correlation_id or request_id}}}, *headers)


def graph_time(moment: datetime | None) -> str | None:
    """Graph's way: `2024-02-10T11:24:42.3148266Z` (seven fractional digits when there is a fraction)."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}0" if moment.microsecond else ""
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}Z"


def _bearer(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.casefold() == "bearer" else ""


def _caller(
    state: SimulatorState, headers: Mapping[str, str], correlation_id: str | None,
) -> tuple[dict[str, Any], Tenant] | Reply:
    token = _bearer(headers)
    if not token:
        return _unauthenticated("Access token is empty.", correlation_id)
    claims = verified_claims(token, key=state.signing_key)
    if claims is None:
        return _unauthenticated("Access token validation failure. Invalid signature or malformed token.",
                                correlation_id)
    # Graph's own URI: when the app's GRAPH_ENDPOINT is this simulator, its `<endpoint>/.default` names it.
    if claims.get("aud") not in GRAPH_AUDIENCES | {state.authority_host, state.authority_host + "/"}:
        return _unauthenticated("Access token validation failure. Invalid audience.", correlation_id)
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
        return _unauthenticated("Lifetime validation failed, the token is expired.", correlation_id)
    tenant = state.directory.tenant(str(claims.get("tid") or ""))
    if tenant is None:
        return _unauthenticated("Access token validation failure. Invalid tenant.", correlation_id)
    return claims, tenant


def _unauthenticated(message: str, correlation_id: str | None) -> Reply:
    return graph_error(401, "InvalidAuthenticationToken", message, correlation_id, (
        "WWW-Authenticate", f'Bearer realm="", client_id="{GRAPH_APP_ID}"'))


def _denied(correlation_id: str | None) -> Reply:
    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.",
                       correlation_id)


def _holds(claims: Mapping[str, Any], any_of: frozenset[str]) -> bool:
    """App-only tokens carry application permissions in `roles`; delegated ones carry scopes in `scp`."""
    granted = claims.get("roles") if claims.get("idtyp") == "app" else str(claims.get("scp") or "").split()
    return any(str(name).casefold() in any_of for name in granted or ())


def _application(
    state: SimulatorState, tenant: Tenant, app_id: str, query: Mapping[str, str], correlation_id: str | None,
) -> Reply:
    selected = [name for name in (query.get("$select") or "").split(",") if name] or list(APPLICATION_PROPERTIES)
    unknown = [name for name in selected if name not in APPLICATION_PROPERTIES]
    if unknown:
        return graph_error(400, "Request_BadRequest", f"Could not find a property named '{unknown[0]}' on type "
                           "'microsoft.graph.application'.", correlation_id)
    app = state.directory.application_object(app_id, tenant)
    if app is None:
        return graph_error(404, "Request_ResourceNotFound", f"Resource 'applications(appId='{app_id}')' does not "
                           "exist or one of its queried reference-property objects are not present.", correlation_id)
    every = _application_json(app)
    body = {"@odata.context": f"{state.authority_host}/v1.0/$metadata#applications({','.join(selected)})/$entity",
            **{name: every[name] for name in selected}}
    return json_reply(200, body)


def _application_json(app: AppRegistration) -> dict[str, Any]:
    return {
        "id": app.object_id, "appId": app.client_id, "displayName": app.name,
        "passwordCredentials": [
            {"customKeyIdentifier": None, "displayName": secret.display_name or None,
             "endDateTime": graph_time(secret.expires_at), "hint": secret.hint, "keyId": secret.key_id,
             "secretText": None, "startDateTime": graph_time(secret.starts_at)}
            for secret in app.secrets],
        "keyCredentials": [
            {"customKeyIdentifier": certificate.thumbprint or None, "displayName": certificate.display_name,
             "endDateTime": graph_time(certificate.expires_at), "key": None, "keyId": certificate.key_id,
             "startDateTime": graph_time(certificate.starts_at), "type": "AsymmetricX509Cert", "usage": "Verify"}
            for certificate in app.certificates],
    }


def _relationships(
    state: SimulatorState, tenant: Tenant, query: Mapping[str, str], correlation_id: str | None,
) -> Reply:
    try:
        top = int(query["$top"]) if query.get("$top") else state.graph_page_size
        start = _offset(query.get("$skiptoken"))
    except ValueError:
        return graph_error(400, "BadRequest", "Invalid $top or $skiptoken.", correlation_id)
    if not 1 <= top <= MAX_TOP:
        return graph_error(400, "BadRequest", f"$top must be between 1 and {MAX_TOP}.", correlation_id)
    every = state.relationships.of(tenant.id, now=state.clock())
    page = every[start:start + top]
    base = f"{state.authority_host}/v1.0/{RELATIONSHIPS_PATH}"
    body: dict[str, Any] = {
        "@odata.context": f"{state.authority_host}/v1.0/tenantRelationships/$metadata#delegatedAdminRelationships",
        "value": [relationship.graph_json(timestamp=graph_time) for relationship in page]}
    if start + top < len(every):
        body["@odata.nextLink"] = f"{base}?{urlencode({'$top': top, '$skiptoken': _skiptoken(start + top)})}"
    return json_reply(200, body)


def _skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError) as err:
        raise ValueError("bad skip token") from err
    if not isinstance(offset, int) or offset < 0:
        raise ValueError("bad skip token")
    return offset
