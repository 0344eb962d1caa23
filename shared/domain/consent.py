"""Consent: the values of Grant Consent links and of the callback that completes them."""
from __future__ import annotations

import enum
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


class ConsentOutcomeKind(enum.Enum):
    """What came of a consent callback, as the page answers it (functions/http.py gives each its status code)."""

    GRANTED = "granted"  # the consent is stored and the customer verified
    DECLINED = "declined"  # the admin said no: an answer, not a failure of the callback
    FAILED = "failed"  # Microsoft answered an error, or issued no refresh token for the code
    REFUSED = "refused"  # the link or the answer cannot be used (unknown, expired, another tenant, unreadable)
    TOO_LARGE = "tooLarge"  # a form body over the contract's limit
    UNAVAILABLE = "unavailable"  # a dependency could not be reached, or the app failed: ask again later


@dataclass(frozen=True, slots=True)
class ConsentOutcome:
    """What the callback page says: what came of it, a title, and lines for a person (never a secret)."""

    kind: ConsentOutcomeKind
    title: str
    lines: tuple[str, ...] = ()
    customer_id: str | None = None
    customer: Customer | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ClaimedState:
    customer_id: str
    expires_at: datetime
