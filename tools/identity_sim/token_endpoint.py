"""POST /{tenant}/oauth2/v2.0/token: the password, refresh_token, client_credentials and authorization_code grants.

Checks run in the service's order: the tenant (90002 / 900023), the grant type, the app and its presence in
the tenant (700016), the client's credentials (7000215 / 7000222), then what the grant itself needs.
"""
from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from tools.identity_sim.aadsts import timestamp, unknown_tenant_code
from tools.identity_sim.client_auth import authentication_failure, read_client
from tools.identity_sim.directory import AppRegistration, Tenant, User
from tools.identity_sim.grants import GrantState
from tools.identity_sim.outcomes import Success
from tools.identity_sim.replies import Reply, SimulatorState, aadsts_reply
from tools.identity_sim.token_issuer import app_token, resource_scopes, user_tokens
from tools.identity_sim.tokens import pkce_s256

logger = logging.getLogger(__name__)

GRANT_TYPES = frozenset({"password", "refresh_token", "client_credentials", "authorization_code"})


class _Refused(Exception):
    """An AADSTS answer raised from deep in a grant; `names` fill its description."""

    def __init__(self, code: int, **names: object) -> None:
        super().__init__(code)
        self.code, self.names = code, names


class TokenEndpoint:
    def __init__(self, state: SimulatorState) -> None:
        self._state = state

    def answer(
        self, tenant_ref: str, form: Mapping[str, str], headers: Mapping[str, str], *,
        shaped: Success | None = None, correlation_id: str | None = None,
    ) -> Reply:
        try:
            return self._answer(tenant_ref, form, headers, shaped)
        except _Refused as refused:
            return aadsts_reply(refused.code, state=self._state, correlation_id=correlation_id, **refused.names)

    def _answer(
        self, tenant_ref: str, form: Mapping[str, str], headers: Mapping[str, str], shaped: Success | None,
    ) -> Reply:
        tenant = self._state.directory.tenant(tenant_ref)
        if tenant is None:
            raise _Refused(unknown_tenant_code(tenant_ref), tenant=tenant_ref)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _Refused(900144, param="grant_type")
        if grant_type not in GRANT_TYPES:
            raise _Refused(70003, grant_type=grant_type)
        client = read_client(form, headers)
        if not client.client_id:
            raise _Refused(900144, param="client_id")
        app = self._state.directory.app(client.client_id)
        if app is None or (grant_type == "client_credentials" and not self._state.directory.installed(app, tenant)):
            raise _Refused(700016, client_id=client.client_id, tenant=tenant.default_domain)
        failure = authentication_failure(app, client, now=self._state.clock())
        if failure is not None:
            raise _Refused(failure, client_id=app.client_id)
        scope = form.get("scope", "")
        if grant_type == "client_credentials":
            return self._client_credentials(app, tenant, scope, shaped)
        want_client_info = form.get("client_info") == "1"
        if grant_type == "password":
            user = self._password_user(tenant, form)
            nonce, single_use = None, False
        elif grant_type == "refresh_token":
            user, single_use = self._refresh_user(app, tenant, form.get("refresh_token"))
            nonce = None
        else:
            user, nonce = self._code_user(app, tenant, form)
            single_use = False
        if user.disabled:
            raise _Refused(50057)
        granted = self._delegated_scopes(app, tenant, user, scope)
        return user_tokens(self._state, app=app, tenant=tenant, user=user, scope=scope, granted=granted,
                           shaped=shaped, want_client_info=want_client_info, nonce=nonce, single_use=single_use)

    def _client_credentials(self, app: AppRegistration, tenant: Tenant, scope: str, shaped: Success | None) -> Reply:
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise _Refused(1002012, scope=scope)
        return app_token(self._state, app=app, tenant=tenant, scope=scope, shaped=shaped)

    def _password_user(self, tenant: Tenant, form: Mapping[str, str]) -> User:
        username, password = form.get("username"), form.get("password")
        if not username:
            raise _Refused(900144, param="username")
        if not password:
            raise _Refused(900144, param="password")
        user = self._state.directory.user(username)
        if user is None or user.tenant != tenant.id:
            raise _Refused(50034, tenant=tenant.default_domain)
        if user.locked:
            raise _Refused(50053)
        if not hmac.compare_digest(user.password.encode(), password.encode()):
            raise _Refused(50126)
        if user.disabled:
            raise _Refused(50057)
        if user.password_expired:
            raise _Refused(50055)
        if user.mfa_required:
            raise _Refused(50076, resource="00000003-0000-0000-c000-000000000000")
        return user

    def _refresh_user(self, app: AppRegistration, tenant: Tenant, token: str | None) -> tuple[User, bool]:
        if not token:
            raise _Refused(900144, param="refresh_token")
        grant = self._state.grants.refresh_grant(token)
        if grant is None:
            raise _Refused(9002313)
        if grant.client_id.casefold() != app.client_id.casefold() or grant.tenant_id != tenant.id:
            raise _Refused(70000)
        if grant.state in (GrantState.REVOKED, GrantState.REDEEMED):
            raise _Refused(50173, issued=_when(grant.issued_at), valid_from=_when(None))
        if grant.state is GrantState.EXPIRED:
            raise _Refused(700082, issued=_when(grant.issued_at))
        user = self._state.directory.user(grant.upn)
        if user is None:
            raise _Refused(50034, tenant=tenant.default_domain)
        if not self._state.grants.redeem_refresh(grant):
            raise _Refused(50173, issued=_when(grant.issued_at), valid_from=_when(None))
        return user, grant.single_use

    def _code_user(self, app: AppRegistration, tenant: Tenant, form: Mapping[str, str]) -> tuple[User, str | None]:
        code = self._state.grants.take_code(form.get("code"))
        if code is None:
            raise _Refused(70000 if form.get("code") else 900144, param="code")
        if code.state is GrantState.REDEEMED:
            raise _Refused(54005)
        if code.expired:
            raise _Refused(70008)
        if code.client_id.casefold() != app.client_id.casefold() or code.tenant_id != tenant.id:
            raise _Refused(70000)
        if form.get("redirect_uri") != code.redirect_uri:
            raise _Refused(50011, redirect_uri=form.get("redirect_uri"), client_id=app.client_id)
        if code.code_challenge:
            verifier = form.get("code_verifier")
            if not verifier:
                raise _Refused(900144, param="code_verifier")
            expected = pkce_s256(verifier) if code.code_challenge_method == "S256" else verifier
            if not hmac.compare_digest(expected.encode(), code.code_challenge.encode()):
                raise _Refused(501481)
        user = self._state.directory.user(code.upn)
        if user is None:
            raise _Refused(50034, tenant=tenant.default_domain)
        return user, code.nonce

    def _delegated_scopes(self, app: AppRegistration, tenant: Tenant, user: User, scope: str) -> tuple[str, ...]:
        """What the token's `scp` holds: with `<resource>/.default`, every scope granted in the tenant (to the
        user, else tenant-wide, else the app's `delegated_scopes`), never ".default" itself; named scopes must
        each be granted (else 65001, as when the app has no service principal in the tenant)."""
        granted = self._state.directory.delegated_grant(app, tenant, user)
        consented = tuple(item for item in granted if item != "offline_access")
        if not self._state.directory.installed(app, tenant):
            raise _Refused(65001, client_id=app.client_id, app_name=app.name)
        asked = [item.rsplit("/", 1)[-1] for item in resource_scopes(scope)]
        if not asked or ".default" in asked:
            return consented
        missing = [item for item in asked if item not in granted]
        if missing:
            raise _Refused(65001, client_id=app.client_id, app_name=app.name)
        return tuple(asked)


def _when(epoch: float | None) -> str:
    return timestamp(datetime.fromtimestamp(epoch, UTC) if epoch is not None else None)
