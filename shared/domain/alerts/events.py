"""The events a customer's status changes make, and the one rule that says which change makes which event.

An event is written with the result that causes it (an outbox); a result that repeats the state makes none.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from ..expiry import Expiry
from ..models import Customer, Status
from ..reasons import Reason


class EventType(enum.StrEnum):
    CONNECTION_LOST = "connectionLost"  # succeeded or notVerified -> failed
    CONNECTION_RESTORED = "connectionRestored"  # failed -> succeeded
    REASON_CHANGED = "reasonChanged"  # failed -> failed, another reason
    CONNECTION_EXPIRING = "connectionExpiring"  # a warning band before a known expiry was crossed


@dataclass(frozen=True, slots=True)
class StatusPoint:
    """A customer's state as an event names it (`from` and `to`): its status and, when failed, why."""

    status: Status
    reason: Reason | None = None


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One change of a customer's state (`GET /api/events`). `run_id` is None outside runs (verify one, consent).
    A connectionExpiring event also names the expiry (what, source, at) and the band (`within_days`: 30, 14, 7, 1)
    that made it; every other event, and one stored before they were kept, has neither."""

    event_id: str
    type: EventType
    customer_id: str
    tenant_id: str
    before: StatusPoint  # `from` in JSON
    after: StatusPoint  # `to` in JSON
    at: datetime
    run_id: str | None = None
    expiry: Expiry | None = None
    within_days: int | None = None


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as the event log holds it: `position` is its number in the order relayed (1, 2, ...), the same
    for every reader, so what goes out together can be named by positions rather than by the events one read."""

    position: int
    event: StatusEvent


def change_type(before: StatusPoint, after: StatusPoint) -> EventType | None:
    """The event a change from `before` to `after` makes, or None for a change that tells no one anything new
    (a repeat, a first success, a record reset to notVerified by an edit). A result after a reset is compared with
    the state before it (compared_state)."""
    if after.status is Status.FAILED:
        if before.status is not Status.FAILED:
            return EventType.CONNECTION_LOST
        return EventType.REASON_CHANGED if before.reason != after.reason else None
    if before.status is Status.FAILED and after.status is Status.SUCCEEDED:
        return EventType.CONNECTION_RESTORED
    return None


def compared_state(customer: Customer) -> StatusPoint:
    """The state a new result for `customer` is compared with: its record's, or, for a record an edit or a consent
    reset to notVerified, the state its latest result left. The reset tells no one anything, so the operator who was
    told "lost" hears "restored" when the edited customer succeeds, and a customer that succeeded or was never
    verified before the edit makes no event on success."""
    if customer.last_verification_status is Status.NOT_VERIFIED and customer.status_before_reset is not None:
        return StatusPoint(customer.status_before_reset, customer.reason_before_reset)
    return StatusPoint(customer.last_verification_status, customer.last_verification_reason)


def status_event(*, event_id: str, customer_id: str, tenant_id: str, before: StatusPoint, after: StatusPoint,
                 at: datetime, run_id: str | None) -> StatusEvent | None:
    """The event of one recorded result, or None when it makes none."""
    kind = change_type(before, after)
    if kind is None:
        return None
    return StatusEvent(event_id=event_id, type=kind, customer_id=customer_id, tenant_id=tenant_id, before=before,
                       after=after, at=at, run_id=run_id)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a listing holds (`GET /api/events` query `type`, `customerId`); None matches every value."""

    type: EventType | None = None
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventListing:
    """Events newest first, and where the next listing starts (None at the end)."""

    events: list[StatusEvent]
    next: str | None
