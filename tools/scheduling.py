"""Timer triggers: NCRONTAB schedules (six fields, seconds first, in UTC), each run on its own thread.

The host on Flex Consumption takes NCRONTAB only (a TimeSpan such as "00:05:00" works on App Service plans
alone), so a TimeSpan is refused. Occurrences missed while a run overran are skipped, and one run never overlaps
the next. `past_due` is always False: this host keeps no schedule status between runs.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from azure.functions.timer import TimerRequest  # func.TimerRequest is abstract
from croniter import croniter

from tools.hostconfig import HostConfigError, resolve_settings, timespan_seconds
from tools.invocation import FunctionSpec

logger = logging.getLogger(__name__)


def parse_schedule(raw: str) -> str:
    """The NCRONTAB expression of a timer trigger after `%SETTING%` substitution; raises HostConfigError."""
    text = resolve_settings(raw).strip()
    if timespan_seconds(text) is not None:
        raise HostConfigError(f"The schedule '{text}' is a TimeSpan, which Azure Functions runs on App Service plans "
                              "only; Flex Consumption needs NCRONTAB, e.g. '0 */5 * * * *'.")
    if len(text.split()) != 6 or not croniter.is_valid(text, second_at_beginning=True):
        raise HostConfigError(f"The schedule '{text}' is not NCRONTAB: it needs 6 fields, {{second}} {{minute}} "
                              "{hour} {day} {month} {day-of-week}, e.g. '0 */5 * * * *'.")
    return text


def next_after(expression: str, moment: datetime) -> datetime:
    # NCRONTAB needs both day-of-month and day-of-week to match (Vixie cron takes either): day_or=False.
    found = croniter(expression, moment, second_at_beginning=True, day_or=False).get_next(datetime)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class TimerRunner:
    """Runs one timer-triggered function on its schedule until `stop` is set."""

    def __init__(self, spec: FunctionSpec, expression: str, *, stop: threading.Event) -> None:
        self.spec, self.expression, self._stop = spec, expression, stop

    def run(self) -> None:
        last: datetime | None = None
        if self.spec.trigger.get("runOnStartup") and not self._stop.is_set():
            last = datetime.now(UTC)
            self._fire(None, last)
        while not self._stop.is_set():
            due = next_after(self.expression, datetime.now(UTC))
            # Re-read the clock now and then while waiting: it may jump.
            while (left := (due - datetime.now(UTC)).total_seconds()) > 0 and not self._stop.wait(min(left, 60)):
                pass
            if self._stop.is_set():
                return
            self._fire(last, due)
            last = due

    def _fire(self, last: datetime | None, scheduled: datetime) -> None:
        request = TimerRequest(past_due=False, schedule={"AdjustForDST": True}, schedule_status={
            "Last": _iso(last) if last else None,
            "Next": _iso(next_after(self.expression, scheduled)),
            "LastUpdated": _iso(datetime.now(UTC)),
        })
        started = time.perf_counter()
        try:
            self.spec(request)
        except Exception:  # as in the host: the failure is logged and the schedule goes on
            logger.exception("Function '%s' failed (timer, scheduled %s).", self.spec.name, _iso(scheduled))
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info("Executed '%s' (timer, Succeeded, %.0f ms).", self.spec.name, elapsed_ms)
