"""Foresight: when a customer's connection will break, before it does.

Each credential a connection depends on has a known time to failure (an `Expiry`: what, from which source, when)
or an unknown one (`ExpiryUnknown`: what, and why it is not known). A Graph read that failed is never "no expiry":
it stays unknown, with its reason, until a read succeeds or the operator gives the date. `None` where an expiry
is expected means only one thing: a source that answered says the credential never expires.

What a customer depends on, by method (`parts_for`):
- `application`: its app's client secret; through the provider's app (after admin consent, `applicationId` is the
  provider's Client Id) the provider's client secret instead;
- `password`, `token`: the provider's client secret (the provider's app claims every such token);
- `token`: also the refresh token, which dies after 90 days unused (last redemption + 90 days);
- every method: the provider's delegated admin (GDAP) relationship with the customer's tenant, when checked.

The customer's time to failure is the earliest known of those (`outlook`); the unknown ones are listed beside it.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import AuthMethod


class ExpiryKind(enum.StrEnum):
    """What will expire (`expiry.what`)."""

    CLIENT_SECRET = "clientSecret"
    PROVIDER_CLIENT_SECRET = "providerClientSecret"
    REFRESH_TOKEN_INACTIVITY = "refreshTokenInactivity"
    GDAP_RELATIONSHIP = "gdapRelationship"


class ExpirySource(enum.StrEnum):
    """Where the date came from (`expiry.source`)."""

    GRAPH = "graph"  # read from Microsoft Graph
    OPERATOR = "operator"  # given with the secret (applicationSecretExpiresAt, clientSecretExpiresAt)
    COMPUTED = "computed"  # worked out here (refresh token inactivity)


class UnknownReason(enum.StrEnum):
    """Why an expiry is not known."""

    PERMISSION_MISSING = "permissionMissing"  # Graph answered 403: the token lacks the permission to read it
    NOT_FOUND = "notFound"  # Graph answered 404: no such application object in that tenant
    THROTTLED = "throttled"  # Graph answered 429 still after retries that honour Retry-After
    UNREACHABLE = "unreachable"  # connection errors, time-outs, 5xx still after retries
    TOKEN_REJECTED = "tokenRejected"  # Graph answered 401: it did not take the access token
    UNEXPECTED_ANSWER = "unexpectedAnswer"  # another status, or a body that is not what Graph documents
    NO_MATCHING_CREDENTIAL = "noMatchingCredential"  # Graph answered; none of the app's secrets is the stored one
    NOT_READ_YET = "notReadYet"  # no read has been made yet and the operator gave no date
    NO_REDEMPTION_RECORDED = "noRedemptionRecorded"  # no redemption of the refresh token is known
    PROVIDER_TENANT_NOT_SET = "providerTenantNotSet"  # PROVIDER_TENANT_ID is empty: the provider's reads are off


# Failures that may pass by themselves; the others change only when someone changes something.
TRANSIENT_REASONS = frozenset({UnknownReason.THROTTLED, UnknownReason.UNREACHABLE})
_ORDER = {kind: index for index, kind in enumerate(ExpiryKind)}  # ties of `at` sort by kind, so outcomes are stable


@dataclass(frozen=True, slots=True)
class Expiry:
    """A known time to failure. `credential_id` names the credential (a Graph keyId, a secret version, a
    relationship id; never a secret value) so a renewed one is told apart from the one it replaces."""

    what: ExpiryKind
    source: ExpirySource
    at: datetime
    credential_id: str = ""


@dataclass(frozen=True, slots=True)
class ExpiryUnknown:
    """An expiry that is not known, and why; `message` is a sentence for a person (no secret, no token)."""

    what: ExpiryKind
    reason: UnknownReason
    message: str


Part = Expiry | ExpiryUnknown | None  # None: a source that answered says it never expires, or it does not apply


@dataclass(frozen=True, slots=True)
class Outlook:
    """A customer's time to failure: the earliest known expiry, every known one (earliest first; the warning bands
    follow each), and the expiries that are not known."""

    expiry: Expiry | None
    unknown: tuple[ExpiryUnknown, ...] = ()
    known: tuple[Expiry, ...] = ()

    @property
    def expires_at(self) -> datetime | None:
        return self.expiry.at if self.expiry is not None else None


REFRESH_TOKEN_INACTIVITY = timedelta(days=90)


def earliest(expiries: Iterable[Expiry]) -> Expiry | None:
    """The expiry that comes first (ties: in ExpiryKind order); None for none."""
    return min(expiries, key=_chronological, default=None)


def outlook(parts: Iterable[Part]) -> Outlook:
    """The earliest known expiry among `parts` and every unknown one (a known one never hides an unknown one:
    the view shows both)."""
    collected = [part for part in parts if part is not None]
    known = tuple(sorted((part for part in collected if isinstance(part, Expiry)), key=_chronological))
    unknown = tuple(sorted((part for part in collected if isinstance(part, ExpiryUnknown)),
                           key=lambda part: _ORDER[part.what]))
    return Outlook(expiry=earliest(known), unknown=unknown, known=known)


def uses_provider_app(method: AuthMethod, *, application_id: str | None, provider_client_id: str | None) -> bool:
    """Whether the provider's own app (its client secret) claims this customer's tokens."""
    if method is not AuthMethod.APPLICATION:
        return True
    return bool(application_id and provider_client_id and application_id.casefold() == provider_client_id.casefold())


def parts_for(
    method: AuthMethod, *, application_id: str | None, provider_client_id: str | None, client_secret: Part = None,
    provider_secret: Part = None, refresh_token: Part = None, gdap: Part = None,
) -> list[Part]:
    """Of the parts given, those this customer's connection depends on (see the module's docstring)."""
    via_provider = uses_provider_app(method, application_id=application_id, provider_client_id=provider_client_id)
    parts: list[Part] = [provider_secret if via_provider else client_secret, gdap]
    if method is AuthMethod.TOKEN:
        parts.append(refresh_token)
    return parts


def customer_outlook(
    method: AuthMethod, *, application_id: str | None, provider_client_id: str | None, client_secret: Part = None,
    provider_secret: Part = None, refresh_token: Part = None, gdap: Part = None,
) -> Outlook:
    """`outlook` of the parts this customer depends on."""
    return outlook(parts_for(method, application_id=application_id, provider_client_id=provider_client_id,
                             client_secret=client_secret, provider_secret=provider_secret,
                             refresh_token=refresh_token, gdap=gdap))


def refresh_token_expiry(last_redeemed_at: datetime | None, *, credential_id: str = "") -> Expiry | ExpiryUnknown:
    """The refresh token dies after 90 days unused: the last redemption (or the consent that issued it) + 90 days.
    Verification redeems it on every run, so this comes close only when runs stopped reaching it."""
    if last_redeemed_at is None:
        return ExpiryUnknown(ExpiryKind.REFRESH_TOKEN_INACTIVITY, UnknownReason.NO_REDEMPTION_RECORDED,
                             "No redemption of the refresh token is recorded yet.")
    return Expiry(ExpiryKind.REFRESH_TOKEN_INACTIVITY, ExpirySource.COMPUTED,
                  last_redeemed_at + REFRESH_TOKEN_INACTIVITY, credential_id)


def _chronological(expiry: Expiry) -> tuple[datetime, int]:
    return expiry.at, _ORDER[expiry.what]
