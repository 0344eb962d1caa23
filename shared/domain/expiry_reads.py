"""What a Microsoft Graph read for foresight answers when it has no data (`ReadUnknown`), and how often a read is
made: the cache policy, by credential (the storage of a cached result is the caller's).

The extra Graph calls must cost at most one request per customer per day. A read's result is kept under a key
that names the credential it was made for, so:
- a result is fresh for `READ_INTERVAL` (a day) from when it was read; a read that failed for a reason that may
  pass by itself (throttled, unreachable) is fresh for `TRANSIENT_RETRY` only, so a Graph outage is not shown for a
  whole day (while Graph keeps failing, that is at most 24 / 6 = 4 tries a day for that customer);
- a changed credential is a new key (the key holds the secret's version), so a new secret is read at once;
- `force` (an operator's "verify one") reads whatever is kept.
The delegated admin relationships are one listing for the provider's whole tenant (pages of up to 300), read once
a day whatever the number of customers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .expiry import TRANSIENT_REASONS, ExpiryKind, ExpiryUnknown, UnknownReason

READ_INTERVAL = timedelta(hours=24)
TRANSIENT_RETRY = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class ReadUnknown:
    """A Graph read that brought no data: why (permissionMissing, notFound, throttled, unreachable, tokenRejected,
    unexpectedAnswer) and a sentence for a person (never the token)."""

    reason: UnknownReason
    message: str

    def about(self, what: ExpiryKind) -> ExpiryUnknown:
        """The expiry of `what` that this read left unknown."""
        return ExpiryUnknown(what, self.reason, self.message)


@dataclass(frozen=True, slots=True)
class KeptRead:
    """What the caller keeps of a read besides its data: under which key, when, and (when it failed) why."""

    key: str
    read_at: datetime
    failed: UnknownReason | None = None


def application_read_key(tenant_id: str, application_id: str, secret_version: str) -> str:
    """The key of a read of an application's credentials made with the customer's own app: its tenant, its
    application id and the version of the stored secret (a new secret: a new key). Ids only, never a secret."""
    return f"graph-app|{tenant_id.casefold()}|{application_id.casefold()}|{secret_version}"


def provider_read_key(client_id: str, secret_version: str) -> str:
    """The key of a read of the provider's own application (its client secret), one for every customer."""
    return f"graph-provider|{client_id.casefold()}|{secret_version}"


def relationships_read_key(provider_tenant_id: str) -> str:
    """The key of the listing of the provider's delegated admin relationships, one for every customer."""
    return f"graph-gdap|{provider_tenant_id.casefold()}"


def needs_read(kept: KeptRead | None, key: str, *, now: datetime, force: bool = False) -> bool:
    """Whether to ask Graph now: nothing kept for this key, or what is kept is no longer fresh, or forced."""
    if force or kept is None or kept.key != key:
        return True
    fresh_for = TRANSIENT_RETRY if kept.failed in TRANSIENT_REASONS else READ_INTERVAL
    return now - kept.read_at >= fresh_for or now < kept.read_at  # a clock set back reads again
