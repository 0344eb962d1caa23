"""Consent: the values and ports of Grant Consent links and the callback that completes them."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from .classification import first_line
from .models import Tenant
from .rules import is_guid
from .verification import AppCredential, TokenAnswer

CONSENT_TTL = timedelta(minutes=15)  # a link (its state) expires after this


# Control characters (C0, DEL, C1): a description is text for a person, shown on a page and kept in a table.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def state_hash(state: str) -> str:
    """What is stored of a state: its SHA-256, so a table never holds the value that redeems a link."""
    return hashlib.sha256(state.encode("utf-8", "replace")).hexdigest()


def consent_description(text: str | None) -> str | None:
    """What is kept and shown of a provider's description of a consent: its first line without trace ids, no
    control characters, at most 500 characters."""
    line = first_line(_CONTROL.sub(" ", first_line(text) or "")) if text else None
    return line or None


def tenant_in_issuer(issuer: object) -> str | None:
    """The tenant id an OpenID configuration's `issuer` names (`https://<host>/<tenant id>/v2.0`), lower-case; None
    when it names none."""
    if not isinstance(issuer, str):
        return None
    path = issuer.partition("://")[2].partition("/")[2]
    tenant = path.partition("/")[0].lower()
    return tenant if is_guid(tenant) else None


@dataclass(frozen=True, slots=True)
class ConsentLink:
    """What POST /api/consent answers: the link to hand to the customer's admin, and when it stops working."""

    authorization_url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """What the identity platform needs back to redeem a code: the URL to send the admin to, and the flow
    (PKCE verifier, nonce) that must stay secret until the callback."""

    url: str
    flow: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ConsentOutcome:
    """What the callback page says: its HTTP status, a title, and lines for a person (never a secret)."""

    status: int
    title: str
    lines: tuple[str, ...] = ()
    customer_id: str | None = None
    tenant: Tenant | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ClaimedState:
    customer_id: str
    expires_at: datetime


class ConsentStates(Protocol):
    """The states of the links handed out, by hash; each can be claimed once."""

    def add(self, hashed: str, *, customer_id: str, expires_at: datetime) -> None: ...

    def claim(self, hashed: str) -> ClaimedState | None:
        """Take the state for good and return what it was for; None when unknown or claimed already (of two
        concurrent claims exactly one gets it)."""

    def remove_expired(self, *, expired_before: datetime) -> int:
        """Forget the states of links that expired unused before that moment; how many."""


class ConsentPlatform(Protocol):
    """The identity platform's side of consent (MSAL's auth-code flow with PKCE, and admin consent)."""

    def authorization_request(
        self, *, tenant: str, client_id: str, client_secret: str, redirect_uri: str, scopes: tuple[str, ...],
        state: str, login_hint: str | None,
    ) -> AuthorizationRequest: ...

    def admin_consent_url(self, *, tenant: str, client_id: str, redirect_uri: str, scope: str, state: str) -> str: ...

    def redeem_code(
        self, *, tenant: str, app: AppCredential, flow: str, response: Mapping[str, str], deadline: float
    ) -> TokenAnswer:
        """Redeem the code of `response` with the flow it was asked with; on success `claims` are the ID
        token's (tid, preferred_username) and `refresh_token` is set."""

    def tenant_of_domain(self, domain: str, *, deadline: float) -> str | None:
        """The tenant id (lower-case GUID) the identity platform says `domain` belongs to: the `issuer` of the
        domain's OpenID configuration. None when the platform does not know the domain; raises
        DependencyUnavailable when it cannot be asked."""
