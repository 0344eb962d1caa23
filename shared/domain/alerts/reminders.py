"""Reminders: a customer that keeps failing is named again in a digest, at most once per REMINDER_INTERVAL per
channel, and not while an operator has acknowledged its failure (until its state changes).

Each channel keeps when its digests last carried reminders (`AlertChannel.reminded_at`): its reminder period. The
first digest for the channel once a period has passed carries every customer failing, unacknowledged, for at least
an interval; so on one channel no customer is reminded twice within an interval (less the slack below), and none
is reminded about a failure that was just alerted.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..models import Status
from ..reasons import Reason
from .events import StatusPoint

# Runs start on a schedule, but their digests go out when each run ends, seconds apart from one day to the next: a
# period this close to its end counts as over, so a daily interval with runs every six hours reminds daily, not
# every thirty hours.
MAX_SLACK = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """An operator's "I know" about one failure: the state acknowledged and when. It holds until the state changes."""

    at: datetime
    state: StatusPoint


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A failing customer's record, only what a reminder shows (CustomerStore.list_failures: a projection, not the
    whole record)."""

    customer_id: str
    tenant_id: str
    reason: Reason | None
    hint: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class FailingCustomer:
    """A customer failing now: its record, since when it fails as it does (the time of its latest event), and any
    acknowledgement."""

    record: FailureRecord
    since: datetime
    acknowledgement: Acknowledgement | None = None

    @property
    def state(self) -> StatusPoint:
        return StatusPoint(Status.FAILED, self.record.reason)


def slack(interval: timedelta) -> timedelta:
    return min(interval / 10, MAX_SLACK)


def acknowledged(customer: FailingCustomer) -> bool:
    """Whether an acknowledgement covers the customer's current failure: given for this very state, since it began
    (a failure that stopped and came back, or changed its reason, is a new one)."""
    ack = customer.acknowledgement
    return ack is not None and ack.state == customer.state and ack.at >= customer.since


def period_due(reminded_at: datetime | None, *, now: datetime, interval: timedelta) -> bool:
    """Whether a channel whose digests last carried reminders at `reminded_at` may carry them again now.
    `interval` zero: reminders are off."""
    if interval <= timedelta(0):
        return False
    return reminded_at is None or now - reminded_at >= interval - slack(interval)


def to_remind(customers: Iterable[FailingCustomer], *, now: datetime, interval: timedelta) -> list[FailingCustomer]:
    """The customers a reminder period's digest names: failing for at least an interval, not acknowledged."""
    if interval <= timedelta(0):
        return []
    oldest = now - interval + slack(interval)
    return [c for c in customers if c.since <= oldest and not acknowledged(c)]
