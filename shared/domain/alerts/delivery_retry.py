"""What one attempt to deliver a message came to, and when to try again.

A 429 waits for its Retry-After; 5xx, 408, time-outs and connection failures back off exponentially with jitter; all
for at most MAX_DELIVERY_AGE from the delivery's creation, then the delivery has failed. A redirect, any other 4xx,
or a destination the outbound rules refuse fails at once: sending the same message again would not change it.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_DELIVERY_AGE = timedelta(hours=24)
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=15)  # a receiver back after an outage gets its messages within this
MIN_RETRY_AFTER = timedelta(seconds=1)


class OutcomeKind(enum.StrEnum):
    SENT = "sent"  # 2xx
    THROTTLED = "throttled"  # 429
    SERVER_ERROR = "serverError"  # 5xx, 408
    UNREACHABLE = "unreachable"  # no answer: name not resolved, connection refused or reset, TLS failed, time-out
    REDIRECTED = "redirected"  # 3xx, never followed
    REJECTED = "rejected"  # any other answer: the receiver refuses this message
    NOT_ALLOWED = "notAllowed"  # the URL, or an address its host resolves to, is one alerts may not reach


RETRIED = frozenset({OutcomeKind.THROTTLED, OutcomeKind.SERVER_ERROR, OutcomeKind.UNREACHABLE})


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """`detail` is for the operator, in our words: never the receiver's body, never the URL's path or query."""

    kind: OutcomeKind
    detail: str
    status: int | None = None
    retry_after: str | None = None  # a 429's Retry-After as received


def outcome_of_answer(status: int, *, retry_after: str | None = None) -> SendOutcome:
    """The outcome of an HTTP answer with `status` (its body is never read into it)."""
    if 200 <= status < 300:
        return SendOutcome(OutcomeKind.SENT, f"HTTP {status}", status)
    if status == 429:
        return SendOutcome(OutcomeKind.THROTTLED, "HTTP 429 (throttled)", status, retry_after)
    if status >= 500 or status == 408:
        return SendOutcome(OutcomeKind.SERVER_ERROR, f"HTTP {status} from the receiver", status)
    if 300 <= status < 400:
        return SendOutcome(OutcomeKind.REDIRECTED, f"HTTP {status}: the receiver redirects, and redirects are not "
                           "followed; set the channel's URL to the final one", status)
    return SendOutcome(OutcomeKind.REJECTED, f"HTTP {status}: the receiver refused the message", status)


def retry_after_delay(value: str | None, *, now: datetime) -> timedelta | None:
    """A Retry-After header (delay-seconds or an HTTP-date) as a delay from `now`, at least MIN_RETRY_AFTER; None
    when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return max(timedelta(seconds=int(text[:9])), MIN_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322's unknown zone; HTTP-dates are GMT
        return None
    return max(when - now, MIN_RETRY_AFTER)


def backoff(attempts: int, *, random: Callable[[], float]) -> timedelta:
    """The wait after the `attempts`-th failed attempt: doubling from FIRST_BACKOFF up to MAX_BACKOFF, of which a
    random half (`random()` in [0, 1)) is jitter, so many deliveries failing together do not retry together."""
    ceiling = min(FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 20), MAX_BACKOFF)
    return ceiling / 2 + ceiling / 2 * random()


def next_attempt(outcome: SendOutcome, *, attempts: int, created_at: datetime, now: datetime,
                 random: Callable[[], float]) -> datetime | None:
    """When to try again after `attempts` attempts, the last of which came to `outcome` at `now`; None when the
    delivery is done (sent) or has failed (not retried, or the next try would fall past MAX_DELIVERY_AGE)."""
    if outcome.kind not in RETRIED:
        return None
    delay = retry_after_delay(outcome.retry_after, now=now) if outcome.kind is OutcomeKind.THROTTLED else None
    when = now + (delay if delay is not None else backoff(attempts, random=random))
    return when if when <= created_at + MAX_DELIVERY_AGE else None
