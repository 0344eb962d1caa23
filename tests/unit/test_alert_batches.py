"""Batches: what goes out together is named by positions in the event log and recorded once (a chain's head), so
every instance builds the same batch under the same key whatever it read, and a late event joins a later batch."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.alerts.batches import CHANGES, GATHER_WINDOW, BatchHead, batch_of, chain_of, next_head
from shared.domain.alerts.digests import Batch
from shared.domain.alerts.events import EventType, LoggedEvent, StatusEvent, StatusPoint
from shared.domain.models import Status
from shared.domain.reasons import Reason

T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
OK = StatusPoint(Status.SUCCEEDED)
BAD = StatusPoint(Status.FAILED, Reason.INVALID_CREDENTIALS)


def _logged(position: int, *, run_id: str | None = "run-1", at: datetime = T0) -> LoggedEvent:
    return LoggedEvent(position, StatusEvent(f"e-{position:05d}", EventType.CONNECTION_LOST, f"c{position}", "t",
                                             OK, BAD, at, run_id))


def test_a_run_goes_out_once_it_has_finished_named_by_the_positions_it_spans():
    logged = [_logged(3), _logged(4, run_id="run-2"), _logged(7)]
    run_1 = [e for e in logged if chain_of(e) == "run:run-1"]
    assert next_head("run:run-1", None, run_1, now=T0, finished_runs=set()) is None
    head = next_head("run:run-1", None, run_1, now=T0, finished_runs={"run-1"})
    assert head == BatchHead("run:run-1", 1, 0, 7) and head.key == "run:run-1:0-7"
    assert batch_of(head, logged[::-1]) == Batch("run:run-1:0-7", "run-1", (logged[0].event, logged[2].event))


def test_a_late_event_goes_into_the_next_batch_and_never_changes_the_one_recorded():
    first, late = _logged(3), _logged(9, at=T0 - timedelta(minutes=1))  # relayed late, made earlier
    head = next_head("run:run-1", None, [first], now=T0, finished_runs={"run-1"})
    # An instance that reads both rebuilds the recorded batch as it was: the late event is not in it.
    assert batch_of(head, [first, late]).events == (first.event,)
    assert next_head("run:run-1", head, [first, late], now=T0, finished_runs={"run-1"}) is None  # not done yet
    done = BatchHead(head.chain, head.number, head.low, head.high, done=True)
    following = next_head("run:run-1", done, [first, late], now=T0, finished_runs={"run-1"})
    assert following == BatchHead("run:run-1", 2, 3, 9) and following.key != head.key
    assert batch_of(following, [first, late]).events == (late.event,)


def test_settled_events_are_those_of_a_done_batch_or_an_earlier_one():
    head = BatchHead("changes", 2, 4, 9)
    assert [p for p in (4, 5, 9, 10) if head.settled(p)] == [4]
    done = BatchHead("changes", 2, 4, 9, done=True)
    assert [p for p in (4, 5, 9, 10) if done.settled(p)] == [4, 5, 9]


def test_changes_outside_runs_are_gathered_for_at_most_a_minute_from_the_first_not_yet_sent():
    first = _logged(2, run_id=None, at=T0)
    second = _logged(5, run_id=None, at=T0 + GATHER_WINDOW - timedelta(seconds=1))
    third = _logged(6, run_id=None, at=T0 + GATHER_WINDOW)  # the first window has closed: it starts the next
    logged = [third, second, first]
    assert chain_of(first) == CHANGES
    assert next_head(CHANGES, None, logged, now=T0 + GATHER_WINDOW - timedelta(microseconds=1),
                     finished_runs=()) is None
    head = next_head(CHANGES, None, logged, now=T0 + GATHER_WINDOW, finished_runs=())
    assert head == BatchHead(CHANGES, 1, 0, 5) and batch_of(head, logged).events == (first.event, second.event)
    done = BatchHead(CHANGES, 1, 0, 5, done=True)
    assert next_head(CHANGES, done, logged, now=T0 + 2 * GATHER_WINDOW - timedelta(microseconds=1),
                     finished_runs=()) is None
    assert next_head(CHANGES, done, logged, now=T0 + 2 * GATHER_WINDOW, finished_runs=()) == BatchHead(
        CHANGES, 2, 5, 6)


def test_a_change_numbered_inside_a_window_goes_with_it_even_when_made_later():
    """The window's extent is a position: a change relayed before its last one goes out with it, never alone
    after it under a key another instance would not build."""
    first, later, last = (_logged(1, run_id=None, at=T0), _logged(2, run_id=None, at=T0 + timedelta(minutes=5)),
                          _logged(3, run_id=None, at=T0 + timedelta(seconds=30)))
    head = next_head(CHANGES, None, [first, later, last], now=T0 + GATHER_WINDOW, finished_runs=())
    assert head == BatchHead(CHANGES, 1, 0, 3) and len(batch_of(head, [first, later, last]).events) == 3
