"""Runs that lose work, over fakes: a message the host gave up on (verify-requests-poison), and a worker that
dies holding a chunk (the host hides it for 10 minutes). Each run finishes, and each customer counts once."""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.models import Status
from shared.domain.runs import RecoveryCause, Trigger
from shared.domain.verification import TokenAnswer
from shared.domain.work import Chunk, FanOut, Watch, decode, encode
from shared.usecases.runs import (
    CHUNK_SIZE,
    MAX_STALLS,
    STALL_AFTER,
    WATCH_EVERY,
    handle_poisoned,
    handle_work,
    start_run,
    watch_run,
)
from shared.views import run_view
from tests.unit.test_runs import add, drain, new_world


@pytest.fixture
def world(services):
    return new_world(services)


def started(world, customers: int):
    services, ctx, runs, queue = world
    for n in range(customers):
        add(services, n)
    run, _ = start_run(runs, queue, trigger=Trigger.HTTP)
    handle_work(ctx, runs, queue, encode(queue.messages.pop(0)))  # the fan-out: every chunk sent
    return run


def quiet_for(runs, run_id: str, seconds: float) -> None:
    """As if nothing had happened in the run for `seconds`."""
    runs.progress[run_id] = datetime.now(UTC) - timedelta(seconds=seconds)


def test_a_run_starts_with_a_watch_sent_for_later(world):
    _, _, runs, queue = world
    run, _ = start_run(runs, queue, trigger=Trigger.HTTP)
    assert queue.messages == [FanOut(run.run_id)]
    assert queue.delayed == [(Watch(run.run_id), WATCH_EVERY)]


def test_work_messages_round_trip_with_resent_and_watch():
    for work in (Watch("r1"), FanOut("r1", '["tenant","c9"]', resent=True), Chunk("r1", ("a",), resent=True),
                 Chunk("r1", ("a", "b"))):
        assert decode(encode(work)) == work
    assert "resent" not in encode(Chunk("r1", ("a",)))  # a first sending reads as it always did
    for text in ('{"watch": "r1", "resent": true}', '{"run": "r", "customers": [], "resent": 1}', '{"watch": 5}',
                 '{"fanOut": "r1", "after": ["tenant", "c9"]}', '{"fanOut": "r1", "after": ""}'):
        with pytest.raises(ValueError):
            decode(text)


# --- poison ---------------------------------------------------------------------------------------------


def test_a_poisoned_chunk_is_sent_once_more_then_given_up_and_the_run_finishes(world, caplog):
    services, ctx, runs, queue = world
    run = started(world, 2 * CHUNK_SIZE)
    first, second = queue.messages
    queue.messages.clear()
    handle_work(ctx, runs, queue, encode(second))  # the other chunk is fine
    handle_poisoned(runs, queue, encode(first))  # the host gave up on this one after 5 deliveries
    (again,) = queue.messages
    assert again == Chunk(run.run_id, first.customer_ids, resent=True)
    assert runs.get(run.run_id).finished_at is None
    queue.messages.clear()
    with caplog.at_level(logging.INFO):
        handle_poisoned(runs, queue, encode(again))  # and it failed as well
    assert queue.messages == []
    done = runs.get(run.run_id)
    assert done.finished_at is not None
    assert (done.total, done.completed, done.given_up, done.resent) == (50, 25, 25, 25)
    assert done.causes == {RecoveryCause.WORK_FAILED}
    view = run_view(done)
    assert view["completed"] == 25 and view["byStatus"]["succeeded"] == 25
    assert view["recovery"] == {
        "resent": 25, "givenUp": 25, "causes": ["workFailed"],
        "message": "Work was lost: work failed on every delivery (storage could not be reached, or the worker "
                   "failed). 25 customers were sent again. 25 customers were given up on: they keep their last "
                   "result, and the next run verifies them.",
    }
    assert "25 given up" in next(r.getMessage() for r in caplog.records if "finished" in r.getMessage())
    # Given up means not verified by this run: their records keep what they had.
    assert services.customers.get(first.customer_ids[0]).last_verification_status is Status.NOT_VERIFIED


def test_a_poisoned_chunk_sends_again_only_its_customers_still_pending(world):
    _, ctx, runs, queue = world
    run = started(world, CHUNK_SIZE)
    (chunk,) = queue.messages
    queue.messages.clear()
    runs.complete_many(run.run_id, {c: Status.SUCCEEDED for c in chunk.customer_ids[:10]})
    handle_poisoned(runs, queue, encode(chunk))
    (again,) = queue.messages
    assert again.customer_ids == chunk.customer_ids[10:] and again.resent
    drain(ctx, runs, queue)
    done = runs.get(run.run_id)
    assert (done.completed, done.given_up, done.resent) == (25, 0, 15) and done.finished_at is not None
    assert run_view(done)["recovery"]["message"].endswith("15 customers were sent again.")


def test_a_poisoned_chunk_of_a_finished_or_unknown_run_changes_nothing(world):
    _, ctx, runs, queue = world
    run = started(world, 3)
    (chunk,) = queue.messages
    drain(ctx, runs, queue)
    before = runs.get(run.run_id)
    handle_poisoned(runs, queue, encode(chunk))
    handle_poisoned(runs, queue, encode(Chunk("no-such-run", ("c000",))))
    assert queue.messages == [] and runs.get(run.run_id) == before and run_view(before)["recovery"] is None


def test_a_poisoned_fan_out_is_sent_once_more_then_enrolment_stops_and_the_run_finishes(world, monkeypatch):
    _, ctx, runs, queue = world
    monkeypatch.setattr("shared.usecases.runs.MAX_TOP", CHUNK_SIZE)
    monkeypatch.setattr("shared.usecases.runs.FAN_OUT_SECONDS", 0)  # one page per fan-out message
    run = started(world, 3 * CHUNK_SIZE)
    chunk, rest = queue.messages
    assert isinstance(rest, FanOut) and rest.after is not None
    queue.messages.clear()
    handle_poisoned(runs, queue, encode(rest))
    assert queue.messages == [FanOut(run.run_id, rest.after, resent=True)]
    handle_poisoned(runs, queue, encode(queue.messages.pop()))  # failed again: the rest is never enrolled
    assert queue.messages == []
    handle_work(ctx, runs, queue, encode(chunk))
    done = runs.get(run.run_id)
    assert (done.total, done.completed) == (CHUNK_SIZE, CHUNK_SIZE) and done.finished_at is not None
    assert done.causes == {RecoveryCause.WORK_FAILED, RecoveryCause.ENROLMENT_STOPPED}
    assert "customers not yet enrolled are not in this run" in run_view(done)["recovery"]["message"]


def test_a_poisoned_watch_goes_on_watching_and_a_foreign_message_is_dropped(world, caplog):
    _, _, runs, queue = world
    handle_poisoned(runs, queue, encode(Watch("r1")))
    assert queue.delayed == [(Watch("r1"), WATCH_EVERY)]
    handle_poisoned(runs, queue, "not ours")
    assert queue.messages == [] and "dropped" in caplog.text


# --- a worker that dies holding a chunk -----------------------------------------------------------------


def test_a_chunk_taken_and_never_finished_is_sent_again_after_a_stall_and_counted_once(world):
    services, ctx, runs, queue = world
    run = started(world, 3 * CHUNK_SIZE)
    held = queue.messages.pop(1)  # a worker took it and died: the host hides it for 10 minutes
    drain(ctx, runs, queue)
    assert runs.get(run.run_id).completed == 2 * CHUNK_SIZE and runs.get(run.run_id).finished_at is None

    queue.delayed.clear()
    watch_run(runs, queue, run.run_id)  # progress a moment ago: only the next look is sent
    assert queue.messages == [] and queue.delayed == [(Watch(run.run_id), WATCH_EVERY)]

    quiet_for(runs, run.run_id, STALL_AFTER.total_seconds() + 1)
    watch_run(runs, queue, run.run_id)
    (again,) = queue.messages
    assert again == Chunk(run.run_id, held.customer_ids, resent=True)
    drain(ctx, runs, queue)
    done = runs.get(run.run_id)
    assert (done.total, done.completed, done.given_up, done.resent, done.stalls) == (75, 75, 0, 25, 1)
    assert done.finished_at is not None and done.causes == {RecoveryCause.WORKER_STALLED}

    # Ten minutes later the host hands the held chunk to a worker again: nothing is verified or counted twice.
    calls = len(ctx.platform.calls)
    handle_work(ctx, runs, queue, encode(held))
    assert len(ctx.platform.calls) == calls and runs.get(run.run_id) == done
    queue.delayed.clear()
    watch_run(runs, queue, run.run_id)  # the run is finished: no more watching
    assert queue.delayed == [] and queue.messages == []


def test_one_stall_seen_by_two_watchers_is_recovered_once(world):
    _, _, runs, queue = world
    run = started(world, CHUNK_SIZE)
    queue.messages.clear()  # the chunk's worker died
    quiet_for(runs, run.run_id, STALL_AFTER.total_seconds() + 1)
    seen = runs.get(run.run_id)
    barrier = threading.Barrier(2)

    def watcher():
        barrier.wait()
        watch_run(runs, queue, run.run_id)

    runs_get = runs.get
    runs.get = lambda run_id: seen  # both read the run before either recovers it
    try:
        threads = [threading.Thread(target=watcher) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        runs.get = runs_get
    assert len(queue.messages) == 1 and runs.get(run.run_id).stalls == 1


def test_a_run_that_keeps_stalling_gives_up_its_outstanding_customers_and_finishes(world):
    _, ctx, runs, queue = world
    run = started(world, 2 * CHUNK_SIZE)
    handle_work(ctx, runs, queue, encode(queue.messages.pop(0)))  # one chunk done; the other's workers keep dying
    for stall in range(MAX_STALLS):
        queue.messages.clear()
        quiet_for(runs, run.run_id, STALL_AFTER.total_seconds() + 1)
        watch_run(runs, queue, run.run_id)
        assert len(queue.messages) == 1 and runs.get(run.run_id).stalls == stall + 1
    queue.messages.clear()
    quiet_for(runs, run.run_id, STALL_AFTER.total_seconds() + 1)
    watch_run(runs, queue, run.run_id)
    assert queue.messages == []
    done = runs.get(run.run_id)
    assert (done.completed, done.given_up, done.resent) == (CHUNK_SIZE, CHUNK_SIZE, MAX_STALLS * CHUNK_SIZE)
    assert done.finished_at is not None and done.causes == {RecoveryCause.WORKER_STALLED}


def test_a_stalled_fan_out_starts_again_and_each_customer_is_enrolled_once(world, monkeypatch):
    _, ctx, runs, queue = world
    monkeypatch.setattr("shared.usecases.runs.MAX_TOP", CHUNK_SIZE)
    monkeypatch.setattr("shared.usecases.runs.FAN_OUT_SECONDS", 0)
    run = started(world, 2 * CHUNK_SIZE)
    queue.messages.pop()  # the fan-out for the second page died with its worker
    drain(ctx, runs, queue)
    quiet_for(runs, run.run_id, STALL_AFTER.total_seconds() + 1)
    watch_run(runs, queue, run.run_id)
    assert queue.messages == [FanOut(run.run_id)]
    drain(ctx, runs, queue)
    done = runs.get(run.run_id)
    assert (done.total, done.completed) == (2 * CHUNK_SIZE, 2 * CHUNK_SIZE) and done.finished_at is not None


def test_a_slow_chunk_says_its_worker_is_alive_so_it_is_not_taken_for_a_lost_one(world, monkeypatch):
    services, ctx, runs, queue = world
    monkeypatch.setattr("shared.usecases.runs.ALIVE_EVERY", 0.05)
    slow = "5a0e3c1d-7b2f-4e6a-8c9d-0f1e2d3c4b5a"
    released = threading.Event()
    ctx.platform.script(slow, lambda: released.wait(30) and TokenAnswer(claims={"tid": slow,
                                                                                "roles": ["User.Read.All"]}))
    add(services, 0, slow)
    run, _ = start_run(runs, queue, trigger=Trigger.HTTP)
    handle_work(ctx, runs, queue, encode(queue.messages.pop(0)))
    chunk = encode(queue.messages.pop(0))
    said = threading.Event()
    alive = runs.mark_alive
    runs.mark_alive = lambda run_id: (alive(run_id), said.set())
    quiet_for(runs, run.run_id, STALL_AFTER.total_seconds() + 1)
    worker = threading.Thread(target=handle_work, args=(ctx, runs, queue, chunk))
    worker.start()
    try:
        assert said.wait(10), "the worker never said it was alive"
        watch_run(runs, queue, run.run_id)
        assert queue.messages == [], "a live worker's chunk was sent again"
    finally:
        released.set()
        worker.join(30)
    assert runs.get(run.run_id).finished_at is not None and runs.get(run.run_id).resent == 0


def test_a_worker_that_cannot_say_it_is_alive_still_finishes_its_chunk(world, monkeypatch, caplog):
    services, ctx, runs, queue = world
    monkeypatch.setattr("shared.usecases.runs.ALIVE_EVERY", 0.01)
    slow = "5a0e3c1d-7b2f-4e6a-8c9d-0f1e2d3c4b5a"
    ctx.platform.script(slow, lambda: threading.Event().wait(0.2) or TokenAnswer(
        claims={"tid": slow, "roles": ["User.Read.All"]}))
    add(services, 0, slow)
    run, _ = start_run(runs, queue, trigger=Trigger.HTTP)

    def unreachable(run_id):
        raise OSError("storage down")

    runs.mark_alive = unreachable
    drain(ctx, runs, queue)
    assert runs.get(run.run_id).completed == 1 and "could not say this worker is alive" in caplog.text
