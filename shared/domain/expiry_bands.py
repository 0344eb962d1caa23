"""Warning bands before an expiry (30, 14, 7 and 1 days), the `connectionExpiring` rule "each band once per
credential", and the `expiringWithinDays` filter with the `summary.expiring` counts.

Bands: a time to failure of at most 30 days is in band 30, at most 14 in band 14, at most 7 in band 7, at most 1
in band 1; more than 30 days is in no band; at or past the expiry is `EXPIRED` (0), which warns no more (the
failure itself is the verification's to report, as `connectionLost`).

Once per band per credential: what was last warned is kept per credential identity (`credential_identity`: what
expires, which credential, and when). A `connectionExpiring` is emitted when the time to failure enters a band
narrower than the last one warned for that identity; bands skipped between two looks give one event, for the
band it is in now. A changed credential (a renewed secret, a new refresh token, an auto-extended relationship, a
corrected date) is another identity and starts again. An expiry that is unknown for a while (a failed read)
changes nothing kept, so a read that recovers does not warn twice.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .expiry import Expiry

BANDS = (30, 14, 7, 1)  # days, widest first
EXPIRED = 0
SUMMARY_WINDOWS = (7, 30)  # summary.expiring: how many customers fail within 7 and within 30 days


def band(at: datetime, now: datetime) -> int | None:
    """The band a time to failure is in at `now`: 30, 14, 7, 1, EXPIRED, or None (more than 30 days)."""
    left = at - now
    if left <= timedelta(0):
        return EXPIRED
    narrowest = [days for days in BANDS if left <= timedelta(days=days)]
    return narrowest[-1] if narrowest else None


def credential_identity(expiry: Expiry) -> str:
    """A short, stable name for the credential an expiry is about, to key what was warned: `<what>:<digest of
    which credential and when>` (the kind stays readable; the rest needs no reading back)."""
    text = f"{expiry.credential_id}|{expiry.at.isoformat()}"
    return f"{expiry.what}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:24]}"


@dataclass(frozen=True, slots=True)
class Warned:
    """The narrowest band warned for one credential identity (None: tracked, nothing warned yet)."""

    identity: str
    band: int | None


@dataclass(frozen=True, slots=True)
class BandDecision:
    emit: int | None  # the band to emit a connectionExpiring for, or None
    state: Warned | None  # what to keep for next time


def next_warning(last: Warned | None, expiry: Expiry | None, *, now: datetime) -> BandDecision:
    """Whether to emit `connectionExpiring` for this credential now, and what to keep (rules above)."""
    if expiry is None:
        return BandDecision(None, last)
    identity = credential_identity(expiry)
    current = band(expiry.at, now)
    warned = last.band if last is not None and last.identity == identity else None
    tracked = last is not None and last.identity == identity
    if current is None or (tracked and warned is not None and current >= warned):
        return BandDecision(None, Warned(identity, warned))
    if current == EXPIRED:
        return BandDecision(None, Warned(identity, EXPIRED))
    return BandDecision(current, Warned(identity, current))


def next_warnings(
    warned: Mapping[str, int | None], expiries: Iterable[Expiry], *, now: datetime,
) -> tuple[list[tuple[Expiry, int]], dict[str, int | None]]:
    """`next_warning` for each of a customer's known expiries at once: the (expiry, band) pairs to emit, and the
    map to keep (identity -> band warned). An identity is dropped when a known expiry of the same kind replaces it
    (its credential changed); one whose kind has no known expiry now (unknown for a while) is kept as it was."""
    expiries = list(expiries)
    known_kinds = {str(expiry.what) for expiry in expiries}
    emits: list[tuple[Expiry, int]] = []
    kept: dict[str, int | None] = {identity: band_warned for identity, band_warned in warned.items()
                                   if identity.partition(":")[0] not in known_kinds}
    for expiry in expiries:
        identity = credential_identity(expiry)
        last = Warned(identity, warned[identity]) if identity in warned else None
        decision = next_warning(last, expiry, now=now)
        if decision.emit is not None:
            emits.append((expiry, decision.emit))
        if decision.state is not None:
            kept[identity] = decision.state.band
    return emits, kept


def expiring_within(expires_at: datetime | None, days: int, *, now: datetime) -> bool:
    """The `expiringWithinDays` filter: a known time to failure at most `days` days from `now`. One already past
    is included (its time to failure is below any bound); an unknown one (None) is not."""
    return expires_at is not None and expires_at - now <= timedelta(days=days)


def expiring_counts(expires_at: Iterable[datetime | None], *, now: datetime) -> dict[int, int]:
    """`summary.expiring`: how many of these times to failure fall within each of SUMMARY_WINDOWS days."""
    times = list(expires_at)
    return {days: sum(expiring_within(at, days, now=now) for at in times) for days in SUMMARY_WINDOWS}
