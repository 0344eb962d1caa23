"""Deliveries: one digest on its way to one channel, kept until sent or given up, so nothing is lost when a receiver
is down, and nothing is sent twice under two ids: the id is made from the channel and the batch, the same on every
instance and every redelivered queue message, and receivers deduplicate on it (`X-Delivery-Id`).
"""
from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from .delivery_retry import MAX_DELIVERY_AGE, RETRIED, OutcomeKind, SendOutcome, next_attempt
from .digests import Digest

RETENTION = timedelta(days=30)  # sent and failed deliveries are kept this long, then the maintenance step deletes them
# Delivery ids are UUIDv5 in this namespace (a fixed random UUID) of "<channelId>\n<batch key>".
_NAMESPACE = uuid.UUID("6f0e3c1e-5b0f-4d43-9a55-2f1d6f1f8a10")


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    channel_id: str
    digest: Digest
    created_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None  # None once sent or failed
    last_error: str | None = None  # our words (SendOutcome.detail), never the receiver's body
    sent_at: datetime | None = None
    etag: str | None = field(default=None, compare=False)


def delivery_id_for(channel_id: str, batch_key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{channel_id}\n{batch_key}"))


def new_delivery(digest: Digest, *, now: datetime) -> Delivery:
    """A delivery of `digest`, due at once."""
    return Delivery(delivery_id=delivery_id_for(digest.channel_id, digest.batch_key), channel_id=digest.channel_id,
                    digest=digest, created_at=now, next_attempt_at=now)


def is_due(delivery: Delivery, *, now: datetime) -> bool:
    return (delivery.state is DeliveryState.PENDING and delivery.next_attempt_at is not None
            and delivery.next_attempt_at <= now)


def after_attempt(delivery: Delivery, outcome: SendOutcome, *, now: datetime,
                  random: Callable[[], float]) -> Delivery:
    """`delivery` once an attempt at `now` came to `outcome`: sent, pending until its next attempt, or failed."""
    attempts = delivery.attempts + 1
    if outcome.kind is OutcomeKind.SENT:
        return replace(delivery, state=DeliveryState.SENT, attempts=attempts, next_attempt_at=None, sent_at=now)
    retry_at = next_attempt(outcome, attempts=attempts, created_at=delivery.created_at, now=now, random=random)
    if retry_at is not None:
        return replace(delivery, attempts=attempts, next_attempt_at=retry_at, last_error=outcome.detail)
    error = outcome.detail
    if outcome.kind in RETRIED:
        hours = int(MAX_DELIVERY_AGE.total_seconds() // 3600)
        error = f"{error}; given up after {attempts} attempts over {hours} hours"
    return replace(delivery, state=DeliveryState.FAILED, attempts=attempts, next_attempt_at=None, last_error=error)


def expired_before(now: datetime) -> datetime:
    """Sent and failed deliveries made before this moment are past their retention (pending ones never are: they
    are given up MAX_DELIVERY_AGE after they were made, and then kept their retention as failed)."""
    return now.astimezone(UTC) - RETENTION
