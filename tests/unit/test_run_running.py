"""Whether a run still counts as running: one rule in the domain, which the run store's start and the run view
(`running`) both follow. Progress counts, not the start: a long run that keeps making progress is running."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.models import Status
from shared.domain.runs import STALE_AFTER, Run, Trigger, is_running
from shared.views import run_view, runs_view

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _run(*, started_ago: timedelta, progress_ago: timedelta | None = None, finished: bool = False) -> Run:
    return Run(run_id="20250301100000-0123456789abcdef", trigger=Trigger.HTTP, started_at=NOW - started_ago,
               finished_at=NOW if finished else None, total=4, completed=1, by_status=dict.fromkeys(Status, 0),
               last_progress_at=None if progress_ago is None else NOW - progress_ago)


@pytest.mark.parametrize("run, running", [
    # Started two hours ago, progress a minute ago: still running (the page used to judge by the start).
    (_run(started_ago=timedelta(hours=2), progress_ago=timedelta(minutes=1)), True),
    (_run(started_ago=timedelta(minutes=5)), True),  # no progress yet: judged by its start
    (_run(started_ago=timedelta(hours=2), progress_ago=STALE_AFTER), True),  # the limit itself still counts
    (_run(started_ago=timedelta(hours=2), progress_ago=STALE_AFTER + timedelta(seconds=1)), False),
    (_run(started_ago=STALE_AFTER + timedelta(seconds=1)), False),  # never progressed, started too long ago
    (_run(started_ago=timedelta(minutes=5), progress_ago=timedelta(seconds=1), finished=True), False),
])
def test_a_run_is_running_while_unfinished_and_progressing(run, running):
    assert is_running(run, now=NOW) is running


def test_the_stale_limit_can_be_given():
    run = _run(started_ago=timedelta(hours=3), progress_ago=timedelta(hours=2))
    assert not is_running(run, now=NOW)
    assert is_running(run, now=NOW, stale_after=timedelta(hours=2))


def test_the_run_view_says_running_and_keeps_every_other_field():
    long_but_progressing = _run(started_ago=timedelta(hours=2), progress_ago=timedelta(minutes=1))
    view = run_view(long_but_progressing, now=NOW)
    assert view["running"] is True
    assert set(view) == {"runId", "trigger", "startedAt", "finishedAt", "running", "total", "completed", "byStatus",
                         "recovery"}
    assert (view["startedAt"], view["finishedAt"]) == ("2025-03-01T10:00:00Z", None)
    stalled = dataclasses.replace(long_but_progressing, last_progress_at=NOW - timedelta(hours=1))
    assert run_view(stalled, now=NOW)["running"] is False
    assert run_view(dataclasses.replace(long_but_progressing, finished_at=NOW), now=NOW)["running"] is False


def test_the_run_view_judges_against_this_moment_by_default():
    assert run_view(_run(started_ago=timedelta(hours=2), progress_ago=timedelta(0)))["running"] is False  # NOW is past
    just_now = dataclasses.replace(_run(started_ago=timedelta(hours=2)), last_progress_at=datetime.now(UTC))
    assert run_view(just_now)["running"] is True


def test_the_list_of_runs_says_running_for_each():
    runs = [_run(started_ago=timedelta(hours=2), progress_ago=timedelta(minutes=1)),
            _run(started_ago=timedelta(hours=3), progress_ago=timedelta(hours=1))]
    assert [run["running"] for run in runs_view(runs, now=NOW)["runs"]] == [True, False]
