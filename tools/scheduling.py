"""Timer triggers: NCRONTAB schedules (six fields, seconds first, in UTC) run on their own threads.

A TimeSpan schedule ("hh:mm:ss", accepted by the host on dedicated plans) runs at that interval.
Occurrences missed while a run overran are skipped, as the host does, and one run never overlaps
the next. `past_due` is always False: this host keeps no schedule status between runs.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from azure.functions.timer import TimerRequest  # func.TimerRequest is abstract
from croniter import croniter

from tools.hostconfig import HostConfigError, resolve_settings
from tools.invocation import FunctionSpec, Outcome, invoke

logger = logging.getLogger(__name__)

_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})")


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime: ...


@dataclass(frozen=True)
class CronSchedule:
    expression: str

    def next_after(self, moment: datetime) -> datetime:
        # NCRONTAB needs both day-of-month and day-of-week to match (Vixie cron takes either): day_or=False.
        nxt = croniter(self.expression, moment, second_at_beginning=True, day_or=False).get_next(datetime)
        return nxt if nxt.tzinfo else nxt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class IntervalSchedule:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


def parse_schedule(raw: str) -> Schedule:
    """The schedule of a timer trigger after `%SETTING%` substitution; raises HostConfigError."""
    text = resolve_settings(raw).strip()
    span = _TIMESPAN.fullmatch(text)
    if span:
        days, hours, minutes, seconds = (int(g or 0) for g in span.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise HostConfigError(f"The timer interval '{text}' must be longer than zero.")
        return IntervalSchedule(interval)
    fields = text.split()
    if len(fields) != 6:
        raise HostConfigError(
            f"The schedule '{text}' has {len(fields)} fields; NCRONTAB needs 6 "
            "({second} {minute} {hour} {day} {month} {day-of-week}), e.g. '0 */5 * * * *'."
        )
    if not croniter.is_valid(text, second_at_beginning=True):
        raise HostConfigError(f"The schedule '{text}' is not a valid NCRONTAB expression.")
    return CronSchedule(text)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class TimerRunner:
    """Runs one timer-triggered function on its schedule until `stop` is set."""

    def __init__(self, spec: FunctionSpec, schedule: Schedule, *, run_on_startup: bool,
                 deliver: Callable[[FunctionSpec, Outcome], None], stop: threading.Event) -> None:
        self.spec = spec
        self._deliver = deliver
        self._schedule = schedule
        self._run_on_startup = run_on_startup
        self._stop = stop

    def run(self) -> None:
        last: datetime | None = None
        if self._run_on_startup and not self._stop.is_set():
            now = datetime.now(UTC)
            self._fire(last, now, self._schedule.next_after(now))
            last = now
        while not self._stop.is_set():
            due = self._schedule.next_after(datetime.now(UTC))
            if not self._sleep_until(due):
                return
            self._fire(last, due, self._schedule.next_after(due))
            last = due

    def _sleep_until(self, due: datetime) -> bool:
        """Wait for `due` (UTC wall clock); False once stopping."""
        while True:
            remaining = (due - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                return not self._stop.is_set()
            if self._stop.wait(min(remaining, 60.0)):  # re-read the clock now and then: it may jump
                return False

    def _fire(self, last: datetime | None, scheduled: datetime, following: datetime) -> None:
        request = TimerRequest(
            past_due=False,
            schedule_status={
                "Last": _iso(last) if last else None,
                "Next": _iso(following),
                "LastUpdated": _iso(datetime.now(UTC)),
            },
            schedule={"AdjustForDST": True},
        )
        started = time.perf_counter()
        logger.info("Executing '%s' (timer, scheduled %s).", self.spec.name, _iso(scheduled))
        try:
            self._deliver(self.spec, invoke(self.spec, request))
        except Exception:
            # As in the host: the failure is logged and the schedule goes on.
            logger.exception("Function '%s' failed (timer).", self.spec.name)
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info("Executed '%s' (Succeeded, %.0f ms).", self.spec.name, elapsed_ms)
