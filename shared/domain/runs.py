"""Runs of verification: what started one, why it recovered lost work, its progress, and its id."""
from __future__ import annotations

import enum
import re
import secrets as random_source
from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import Status


class Trigger(enum.StrEnum):
    """What started a run (`trigger` of a run)."""

    HTTP = "http"
    TIMER = "timer"


class RecoveryCause(enum.StrEnum):
    """Why a run sent work again or gave customers up (`recovery.causes` of a run)."""

    WORK_FAILED = "workFailed"  # a message failed on every delivery: the host moved it to the poison queue
    WORKER_STALLED = "workerStalled"  # no progress while customers were outstanding: a worker died holding them
    ENROLMENT_STOPPED = "enrolmentStopped"  # enrolment could not go on: customers not yet enrolled are not in it


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    trigger: Trigger
    started_at: datetime
    finished_at: datetime | None
    total: int
    completed: int
    by_status: dict[Status, int]
    last_progress_at: datetime | None = None
    fanned_out: bool = False  # every customer it will verify is enrolled
    given_up: int = 0  # customers it stopped trying to verify (not in completed): their work kept failing
    resent: int = 0  # customers whose work was sent again after it was lost
    stalls: int = 0  # times it was found without progress while customers were outstanding
    causes: frozenset[RecoveryCause] = frozenset()
    expected: int = 0  # the customers there were when it started (the kept status counts)


def shown_total(run: Run) -> int:
    """The total a run's progress is shown against: exact once it is fanned out; before, the customers there were
    when it started, so progress reads "n of N" from the first second (or those enrolled so far, if more)."""
    return run.total if run.fanned_out else max(run.total, run.expected)


STALE_AFTER = timedelta(minutes=30)  # a run without progress for this long no longer counts as running


def is_running(run: Run, *, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
    """Whether `run` still counts as running: not finished, and its last progress (its start, before any)
    within `stale_after` of `now`. Only a running run keeps a new one from starting."""
    if run.finished_at is not None:
        return False
    return now - (run.last_progress_at or run.started_at) <= stale_after


# Run ids go into routes (/api/runs/{runId}) and storage keys (a run's partition): letters, digits and '-'.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def new_run_id(now: datetime) -> str:
    """Time-ordered, and unguessable."""
    return f"{now:%Y%m%d%H%M%S}-{random_source.token_hex(8)}"


def is_run_id(value: str | None) -> bool:
    """Whether `value` can be a run id: the edge answers 404 for anything else without a lookup, and the run
    store never takes one for a key of its own bookkeeping."""
    return value is not None and _RUN_ID.fullmatch(value) is not None
