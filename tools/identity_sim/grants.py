"""Refresh tokens and authorization codes the simulator issued, kept by fingerprint only (never the value).

A refresh token stays valid after it is redeemed (as Entra's do) unless it was issued `single_use`; tests
revoke (50173) or expire (700082) one, or every one of a user (a password reset). A code is single-use and
lives ten minutes, as in the service.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from tools.identity_sim.tokens import fingerprint, opaque

CODE_LIFETIME_SECONDS = 600


class GrantState(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"  # 50173
    EXPIRED = "expired"  # 700082
    REDEEMED = "redeemed"  # a single-use refresh token after use (50173 again), or a used code (54005)


@dataclass(frozen=True)
class RefreshGrant:
    fingerprint: str
    tenant_id: str
    upn: str
    client_id: str
    scopes: tuple[str, ...]
    issued_at: float
    state: GrantState = GrantState.VALID
    single_use: bool = False


@dataclass(frozen=True)
class CodeGrant:
    fingerprint: str
    tenant_id: str
    upn: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    issued_at: float
    state: GrantState = GrantState.VALID

    @property
    def expired(self) -> bool:
        return time.time() - self.issued_at > CODE_LIFETIME_SECONDS


class IssuedGrants:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refresh: dict[str, RefreshGrant] = {}
        self._codes: dict[str, CodeGrant] = {}

    def issue_refresh_token(
        self, *, tenant_id: str, upn: str, client_id: str, scopes: tuple[str, ...], single_use: bool = False,
        value: str | None = None, state: GrantState = GrantState.VALID,
    ) -> str:
        """A new refresh token (or the given `value`, for scenario files) for `upn` in `tenant_id`."""
        value = value or opaque("1.sim-rt")
        grant = RefreshGrant(fingerprint(value), tenant_id, upn, client_id, tuple(scopes), time.time(), state,
                             single_use)
        with self._lock:
            self._refresh[grant.fingerprint] = grant
        return value

    def refresh_grant(self, value: str | None) -> RefreshGrant | None:
        if not value:
            return None
        with self._lock:
            return self._refresh.get(fingerprint(value))

    def set_refresh_state(self, value: str, state: GrantState) -> None:
        key = fingerprint(value)
        with self._lock:
            if key not in self._refresh:
                raise KeyError("no such refresh token was issued")
            self._refresh[key] = dataclasses.replace(self._refresh[key], state=state)

    def redeem_refresh(self, grant: RefreshGrant) -> bool:
        """Marks a single-use token used; False when another request used it first."""
        if not grant.single_use:
            return True
        with self._lock:
            current = self._refresh.get(grant.fingerprint)
            if current is None or current.state is not GrantState.VALID:
                return False
            self._refresh[grant.fingerprint] = dataclasses.replace(current, state=GrantState.REDEEMED)
            return True

    def revoke_user(self, upn: str) -> int:
        """Revokes every refresh token of `upn` (what a password reset or "revoke sessions" does)."""
        with self._lock:
            mine = [key for key, grant in self._refresh.items() if grant.upn.casefold() == upn.casefold()]
            for key in mine:
                self._refresh[key] = dataclasses.replace(self._refresh[key], state=GrantState.REVOKED)
        return len(mine)

    def issue_code(
        self, *, tenant_id: str, upn: str, client_id: str, redirect_uri: str, scopes: tuple[str, ...],
        code_challenge: str | None, code_challenge_method: str | None, nonce: str | None,
    ) -> str:
        value = opaque("1.sim-code")
        grant = CodeGrant(fingerprint(value), tenant_id, upn, client_id, redirect_uri, tuple(scopes), code_challenge,
                          code_challenge_method, nonce, time.time())
        with self._lock:
            self._codes[grant.fingerprint] = grant
        return value

    def take_code(self, value: str | None) -> CodeGrant | None:
        """The code as it was before this call, and marks it used: a second redemption sees REDEEMED."""
        if not value:
            return None
        key = fingerprint(value)
        with self._lock:
            grant = self._codes.get(key)
            if grant is not None and grant.state is GrantState.VALID:
                self._codes[key] = dataclasses.replace(grant, state=GrantState.REDEEMED)
            return grant
