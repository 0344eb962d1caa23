"""Consent: the values of Grant Consent links and of the callback that completes them."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .classification import first_line
from .models import Customer
from .rules import is_guid

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
    customer: Customer | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ClaimedState:
    customer_id: str
    expires_at: datetime
