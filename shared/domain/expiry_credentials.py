"""A client secret's expiry: the application's credentials as Microsoft Graph lists them, which of them is the
stored secret, and the date that follows (from Graph, else the operator's, else unknown).

Graph never returns a secret's value, only its `hint` (the first three characters) and its `keyId`. Matching:
- by key id, when one is known for the stored secret: the credential with that keyId (GUIDs compared without
  regard to case); if none has it, the stored secret is no longer on the app: no match (the hint is not tried,
  it would find another secret);
- else by hint: the credentials whose hint equals the stored value's first three characters (case counts:
  they are characters of the secret).
  - one: that one;
  - several (secrets made from the same generator often share a prefix): those not yet ended at `now` are
    preferred (a secret that still signs in cannot be an ended one), and of them the one that ends first is
    taken: a warning a little early costs less than a surprise. `SecretMatch.candidates` says how many matched,
    so the view can say the date is the earliest of them;
  - none: no match.
No match is never "no expiry": the expiry is unknown (`noMatchingCredential`), unless the operator gave a date.
A matched credential without an endDateTime never expires (Graph allows it): that is the one "no expiry".
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .expiry import Expiry, ExpiryKind, ExpirySource, ExpiryUnknown, UnknownReason
from .expiry_reads import ReadUnknown

HINT_LENGTH = 3


@dataclass(frozen=True, slots=True)
class PasswordCredential:
    """One of an application's client secrets (Graph's passwordCredential), without its value."""

    key_id: str
    hint: str | None
    ends_at: datetime | None
    starts_at: datetime | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class KeyCredential:
    """One of an application's certificates (Graph's keyCredential): read and kept, not matched (the product
    stores secrets, not certificates)."""

    key_id: str
    ends_at: datetime | None
    starts_at: datetime | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class AppCredentials:
    """An application's credentials as Graph answered them."""

    passwords: tuple[PasswordCredential, ...] = ()
    certificates: tuple[KeyCredential, ...] = ()


@dataclass(frozen=True, slots=True)
class SecretMatch:
    credential: PasswordCredential | None  # None: no credential is the stored secret
    candidates: int  # how many credentials matched (more than one: the date is the earliest of them)


def secret_hint(secret_value: str) -> str:
    """What Graph shows of a secret: its first three characters. Compute it where the value is at hand (when the
    secret is read to verify); keep only the hint, never the value."""
    return secret_value[:HINT_LENGTH]


def match_secret(
    credentials: Sequence[PasswordCredential], *, hint: str | None, key_id: str | None, now: datetime,
) -> SecretMatch:
    """Which credential is the stored secret (the rules are in the module's docstring)."""
    if key_id:
        found = [item for item in credentials if item.key_id.casefold() == key_id.casefold()]
        return SecretMatch(found[0] if found else None, len(found))
    if not hint:
        return SecretMatch(None, 0)
    found = [item for item in credentials if item.hint == hint]
    current = [item for item in found if item.ends_at is None or item.ends_at > now] or found
    ordered = sorted(current, key=lambda item: (item.ends_at is None, item.ends_at or now))
    return SecretMatch(ordered[0] if ordered else None, len(found))


def client_secret_expiry(
    read: AppCredentials | ReadUnknown | None, *, what: ExpiryKind, hint: str | None, key_id: str | None = None,
    operator_at: datetime | None = None, now: datetime, credential_id: str = "",
) -> Expiry | ExpiryUnknown | None:
    """The expiry of a stored client secret (`what`: clientSecret, or providerClientSecret for the provider's):
    - Graph answered and a credential matched: its endDateTime (source graph), None when it has none;
    - else the operator's date when one was given (source operator);
    - else unknown: why Graph did not answer, `noMatchingCredential`, or `notReadYet` when `read` is None.
    `credential_id` names the stored secret (its version) for the warning bands; a matched key id is used when
    the caller names none."""
    if isinstance(read, AppCredentials):
        match = match_secret(read.passwords, hint=hint, key_id=key_id, now=now)
        if match.credential is not None:
            if match.credential.ends_at is None:
                return None
            return Expiry(what, ExpirySource.GRAPH, match.credential.ends_at,
                          credential_id or match.credential.key_id)
    if operator_at is not None:
        return Expiry(what, ExpirySource.OPERATOR, operator_at, credential_id)
    if isinstance(read, ReadUnknown):
        return read.about(what)
    if read is None:
        return ExpiryUnknown(what, UnknownReason.NOT_READ_YET, "The secret's expiry has not been read yet and no "
                                                               "date was given with it.")
    return ExpiryUnknown(what, UnknownReason.NO_MATCHING_CREDENTIAL, "None of the app's client secrets in Microsoft "
                         "Graph is the stored one (by its first three characters or key id).")
