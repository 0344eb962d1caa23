"""The successful token answer: access token claims for a user or an app, id token, refresh token, client_info."""
from __future__ import annotations

import time
import uuid
from typing import Any

from tools.identity_sim.directory import AppRegistration, Tenant, User
from tools.identity_sim.outcomes import Success
from tools.identity_sim.replies import Reply, SimulatorState, json_reply
from tools.identity_sim.tokens import client_info, encode_jwt

LIFETIME_SECONDS = 3599
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def resource_scopes(scope: str | None) -> list[str]:
    return [item for item in (scope or "").split() if item not in OIDC_SCOPES]


def audience(scope: str | None) -> str:
    """The resource of the first resource scope: `https://graph.microsoft.com/.default` -> the Graph URI;
    a bare scope (`User.Read`) means Microsoft Graph, as in the service."""
    for item in resource_scopes(scope):
        if "://" in item:
            return item.rsplit("/", 1)[0]
        return GRAPH_APP_ID
    return GRAPH_APP_ID


def _common(state: SimulatorState, app: AppRegistration, tid: str, aud: str) -> dict[str, Any]:
    now = int(time.time())
    return {"aud": aud, "iss": f"{state.authority_host}/{tid}/v2.0", "iat": now, "nbf": now,
            "exp": now + LIFETIME_SECONDS, "tid": tid, "appid": app.client_id, "azp": app.client_id,
            "app_displayname": app.name, "uti": uuid.uuid4().hex, "ver": "2.0"}


def app_token(
    state: SimulatorState, *, app: AppRegistration, tenant: Tenant, scope: str, shaped: Success | None,
) -> Reply:
    """Client credentials: `roles` holds the application roles (left out when there are none, as the service does)."""
    tid = (shaped.tid if shaped else None) or tenant.id
    claims = _common(state, app, tid, audience(scope))
    claims.update(idtyp="app", oid=app.object_id, sub=app.object_id, appidacr="1")
    roles = shaped.roles if shaped and shaped.roles is not None else state.directory.roles_in(app, tenant)
    if roles:
        claims["roles"] = list(roles)
    return json_reply(200, {"token_type": "Bearer", "expires_in": LIFETIME_SECONDS,
                            "ext_expires_in": LIFETIME_SECONDS,
                            "access_token": encode_jwt(claims, key=state.signing_key)})


def user_tokens(
    state: SimulatorState, *, app: AppRegistration, tenant: Tenant, user: User, scope: str, granted: tuple[str, ...],
    shaped: Success | None, want_client_info: bool, nonce: str | None = None, single_use: bool = False,
) -> Reply:
    """A delegated answer: access token with `scp`, a NEW refresh token when offline_access was asked for, an
    id token when openid was, and client_info when the client sent client_info=1."""
    requested = set((scope or "").split())
    tid = (shaped.tid if shaped else None) or tenant.id
    scp = shaped.scopes if shaped and shaped.scopes is not None else granted
    claims = _common(state, app, tid, audience(scope))
    claims.update(idtyp="user", oid=user.oid, sub=user.oid, upn=user.upn, preferred_username=user.upn,
                  name=user.name or user.upn, scp=" ".join(scp), appidacr="1")
    body: dict[str, Any] = {
        "token_type": "Bearer", "scope": " ".join((*scp, *sorted(requested & OIDC_SCOPES - {"offline_access"}))),
        "expires_in": LIFETIME_SECONDS, "ext_expires_in": LIFETIME_SECONDS,
        "access_token": encode_jwt(claims, key=state.signing_key),
    }
    if "offline_access" in requested:
        body["refresh_token"] = state.grants.issue_refresh_token(
            tenant_id=tenant.id, upn=user.upn, client_id=app.client_id, scopes=tuple(sorted(requested)),
            single_use=single_use)
    if "openid" in requested:
        now = int(time.time())
        id_claims: dict[str, Any] = {
            "aud": app.client_id, "iss": f"{state.authority_host}/{tid}/v2.0", "iat": now, "nbf": now,
            "exp": now + LIFETIME_SECONDS, "name": user.name or user.upn, "oid": user.oid,
            "preferred_username": user.upn, "sub": user.oid, "tid": tid, "ver": "2.0"}
        if nonce:
            id_claims["nonce"] = nonce
        body["id_token"] = encode_jwt(id_claims, key=state.signing_key)
    if want_client_info:
        body["client_info"] = client_info(uid=user.oid, utid=tid)
    return json_reply(200, body)
