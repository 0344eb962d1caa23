"""Reminders: at most once per REMINDER_INTERVAL per channel, in that period's digest; none while acknowledged until
the state changes; none at all with an interval of 0."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.alerts.events import StatusPoint
from shared.domain.alerts.reminders import (
    Acknowledgement,
    FailingCustomer,
    FailureRecord,
    acknowledged,
    period_due,
    slack,
    to_remind,
)
from shared.domain.models import Status
from shared.domain.reasons import Reason

T0 = datetime(2025, 3, 1, 0, 0, 30, tzinfo=UTC)
DAY = timedelta(hours=24)
BAD = StatusPoint(Status.FAILED, Reason.INVALID_CREDENTIALS)
LOCKED = StatusPoint(Status.FAILED, Reason.ACCOUNT_LOCKED)


def _failing(since: datetime, *, state: StatusPoint = BAD, ack: Acknowledgement | None = None) -> FailingCustomer:
    return FailingCustomer(FailureRecord("contoso", "t-1", state.reason), since, acknowledgement=ack)


def test_a_channel_never_reminded_is_due():
    assert period_due(None, now=T0, interval=DAY)


def test_a_period_is_due_again_only_once_the_interval_has_passed():
    assert not period_due(T0, now=T0 + DAY / 2, interval=DAY)
    assert not period_due(T0, now=T0 + DAY - slack(DAY) - timedelta(seconds=1), interval=DAY)
    assert period_due(T0, now=T0 + DAY - slack(DAY), interval=DAY)
    assert period_due(T0, now=T0 + 3 * DAY, interval=DAY)


def test_the_slack_is_small_beside_the_interval():
    assert slack(DAY) == timedelta(minutes=15)
    assert slack(timedelta(minutes=10)) == timedelta(minutes=1)


@pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=-1)])
def test_an_interval_of_zero_turns_reminders_off(interval):
    assert not period_due(None, now=T0, interval=interval)
    assert to_remind([_failing(T0 - 30 * DAY)], now=T0, interval=interval) == []


def test_only_customers_failing_for_an_interval_are_reminded():
    old, recent = _failing(T0 - DAY), _failing(T0 - timedelta(hours=2))
    assert to_remind([old, recent], now=T0, interval=DAY) == [old]


def test_a_failing_customer_is_in_the_state_its_record_says():
    assert _failing(T0, state=LOCKED).state == LOCKED


def test_an_acknowledged_failure_is_not_reminded():
    customer = _failing(T0 - 3 * DAY, ack=Acknowledgement(T0 - 2 * DAY, BAD))
    assert acknowledged(customer)
    assert to_remind([customer], now=T0, interval=DAY) == []


def test_an_acknowledgement_ends_when_the_state_changes():
    ack = Acknowledgement(T0 - 3 * DAY, BAD)
    another_reason = _failing(T0 - 2 * DAY, state=LOCKED, ack=ack)
    failed_again_since = _failing(T0 - 2 * DAY, ack=ack)  # restored and lost again after the acknowledgement
    assert not acknowledged(another_reason) and not acknowledged(failed_again_since)
    assert to_remind([another_reason, failed_again_since], now=T0, interval=DAY) == [another_reason,
                                                                                      failed_again_since]


def test_a_customer_failing_for_three_days_is_reminded_once_a_day_per_channel():
    """Runs every 6 hours; each run's digest goes out when the run ends, a little earlier or later each day."""
    customer = _failing(T0)  # lost in the run of day 0, 00:00
    reminded_at: dict[str, datetime | None] = {"ops": None, "team": None}
    reminders: dict[str, list[datetime]] = {"ops": [], "team": []}
    for run in range(1, 4 * 4 + 1):
        finished = T0 + run * timedelta(hours=6) + timedelta(seconds=(-20, 25, -5, 10)[run % 4])
        for channel in reminded_at:
            if period_due(reminded_at[channel], now=finished, interval=DAY):
                if to_remind([customer], now=finished, interval=DAY):
                    reminders[channel].append(finished)
                    reminded_at[channel] = finished
    for times in reminders.values():
        assert [t.date() for t in times] == [datetime(2025, 3, d).date() for d in (2, 3, 4, 5)]
        assert all(b - a >= DAY - slack(DAY) for a, b in zip(times, times[1:], strict=False))


def test_reminders_resume_for_the_new_failure_after_a_change():
    ack = Acknowledgement(T0, BAD)
    customer = _failing(T0 - timedelta(hours=1), ack=ack)
    assert to_remind([customer], now=T0 + 5 * DAY, interval=DAY) == []
    changed = replace(customer, record=replace(customer.record, reason=LOCKED.reason), since=T0 + 5 * DAY)
    assert to_remind([changed], now=T0 + 6 * DAY, interval=DAY) == [changed]
