"""Runs: starting one (one at a time), the fan-out that enrols the customers and sends them in chunks, the
queue workers that verify the chunks, and the recovery of lost work (README, "Verification": Runs and Lost work).
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import UTC, datetime, timedelta

from ..domain.alerts.events import StatusEvent
from ..domain.models import Customer, Status
from ..domain.ports import CustomerStore, RunStore, WorkQueue
from ..domain.rules import MAX_TOP
from ..domain.runs import STALE_AFTER, RecoveryCause, Run, Trigger, new_run_id
from ..domain.work import Chunk, FanOut, Watch, Work, decode
from .events import relay_quietly
from .verify import ResultToRecord, VerifyContext, check, record_many, relay_written

logger = logging.getLogger(__name__)

CHUNK_SIZE = 25  # customers per queue message: small enough that a redelivery repeats little
FAN_OUT_SECONDS = 20.0  # one fan-out message enrols customers for this long, then hands on to the next
ENROL_SLICE = 3 * CHUNK_SIZE  # customers enrolled (one transaction: at most 98) and then sent, at a time
MARKERS_KEPT = timedelta(days=7)  # how long a run remembers each customer's outcome (its counts stay)
GROUP_WAIT = 0.05  # seconds a finished verification waits for others to be recorded with it
STALL_AFTER = timedelta(seconds=60)  # no progress this long with customers outstanding: their worker is gone
WATCH_EVERY = timedelta(seconds=20)  # how often a running run is looked at
ALIVE_EVERY = 20.0  # seconds a worker with verifications in flight and no result yet waits before saying so
MAX_STALLS = 3  # stalls recovered by sending work again; at the next one the outstanding customers are given up


def start_run(runs: RunStore, queue: WorkQueue, *, trigger: Trigger, customers: CustomerStore | None = None,
              now: datetime | None = None) -> tuple[Run, bool]:
    """Start a run, or return the one running; (run, started now). With `customers`, the run expects as many as
    their kept counts say (one read of a few rows), and shows its progress against that until it is fanned out."""
    now = now or datetime.now(UTC)
    expected = sum(customers.get_status_counts().values()) if customers is not None else 0
    proposed = Run(run_id=new_run_id(now), trigger=trigger, started_at=now, finished_at=None, total=0, completed=0,
                   by_status=dict.fromkeys(Status, 0), expected=expected)
    run, started = runs.start(proposed, stale_after=STALE_AFTER)
    if started:
        queue.send([FanOut(run.run_id)])
        queue.send([Watch(run.run_id)], delay=WATCH_EVERY)
        logger.info("Run %s (%s) started.", run.run_id, run.trigger.value)
    else:
        logger.info("Run %s is still running; no new %s run.", run.run_id, trigger.value)
    return run, started


def prune_runs(runs: RunStore, *, now: datetime | None = None) -> int:
    """Maintenance: drop the per-customer markers of runs older than MARKERS_KEPT (a run's markers are
    only needed while it runs; without this they grow by one row per customer per run)."""
    return runs.prune(started_before=(now or datetime.now(UTC)) - MARKERS_KEPT)


def _work_in(message: str, queue_name: str) -> Work | None:
    try:
        return decode(message)
    except ValueError:
        logger.warning("A %s message this app did not send was dropped.", queue_name)
        return None


def handle_work(ctx: VerifyContext, runs: RunStore, queue: WorkQueue, message: str) -> None:
    """What a queue worker does with one message of `verify-requests`."""
    work = _work_in(message, "verify-requests")
    if work is None:
        return
    if isinstance(work, Watch):
        relay_quietly(ctx.outbox, ctx.event_log)  # what a worker that died after its write left in the outbox
        watch_run(runs, queue, work.run_id)
    elif isinstance(work, FanOut):
        fan_out(ctx.customers, runs, queue, work)
    else:
        verify_chunk(ctx, runs, work)


def handle_poisoned(runs: RunStore, queue: WorkQueue, message: str) -> None:
    """What the app does with a message of `verify-requests-poison`: one the host delivered maxDequeueCount
    times, failing each time. Its run must not wait for it: its pending customers are sent once more (a
    message sent again that fails as well gives them up), a fan-out once more (then enrolment stops where it
    got to), and a watch goes on watching."""
    work = _work_in(message, "verify-requests-poison")
    if work is None:
        return
    if isinstance(work, Watch):
        queue.send([work], delay=WATCH_EVERY)
        return
    run = runs.get(work.run_id)
    if run is None or run.finished_at is not None:
        return
    if isinstance(work, FanOut):
        _fan_out_failed(runs, queue, work)
    else:
        _chunk_failed(runs, queue, work)
    _finish(runs, work.run_id)


def _fan_out_failed(runs: RunStore, queue: WorkQueue, work: FanOut) -> None:
    if not work.resent:
        queue.send([FanOut(work.run_id, work.after, resent=True)])
        runs.note_recovery(work.run_id, cause=RecoveryCause.WORK_FAILED)
        logger.warning("Run %s: a fan-out failed on every delivery; it was sent once more.", work.run_id)
        return
    runs.note_recovery(work.run_id, cause=RecoveryCause.ENROLMENT_STOPPED)
    runs.mark_fanned_out(work.run_id)
    logger.error("Run %s: a fan-out sent again failed as well; enrolment stopped where it got to.", work.run_id)


def _chunk_failed(runs: RunStore, queue: WorkQueue, chunk: Chunk) -> None:
    pending = runs.list_pending(chunk.run_id, chunk.customer_ids)
    if not pending:
        return
    if not chunk.resent:
        queue.send(_chunks(chunk.run_id, pending, resent=True))
        runs.note_recovery(chunk.run_id, cause=RecoveryCause.WORK_FAILED, resent=len(pending))
        logger.warning("Run %s: the work of %d customers failed on every delivery; it was sent once more.",
                       chunk.run_id, len(pending))
        return
    given_up = runs.give_up(chunk.run_id, pending, cause=RecoveryCause.WORK_FAILED)
    logger.error("Run %s: the work of %d customers failed again after it was sent once more; %d given up.",
                 chunk.run_id, len(pending), given_up)


def watch_run(runs: RunStore, queue: WorkQueue, run_id: str, *, now: datetime | None = None) -> None:
    """Look at a run: finished, it is no longer watched; without progress for STALL_AFTER while customers are
    outstanding, its work is sent again (a worker died holding it, and the host would hold it for minutes);
    then the next look is sent for WATCH_EVERY later."""
    run = runs.get(run_id)
    if run is None or run.finished_at is not None:
        return
    now = now or datetime.now(UTC)
    if now - (run.last_progress_at or run.started_at) >= STALL_AFTER:
        _recover_stall(runs, queue, run)
    queue.send([Watch(run_id)], delay=WATCH_EVERY)


def _recover_stall(runs: RunStore, queue: WorkQueue, run: Run) -> None:
    if run.stalls >= MAX_STALLS:
        if not run.fanned_out:
            runs.note_recovery(run.run_id, cause=RecoveryCause.ENROLMENT_STOPPED)
            runs.mark_fanned_out(run.run_id)
        given_up = runs.give_up(run.run_id, None, cause=RecoveryCause.WORKER_STALLED)
        logger.error("Run %s stalled again after %d recoveries: %d customers given up.",
                     run.run_id, run.stalls, given_up)
        _finish(runs, run.run_id)
        return
    pending = runs.list_pending(run.run_id)
    # Claim this stall first: of two watchers that saw it, one sends the work again.
    if not runs.note_recovery(run.run_id, cause=RecoveryCause.WORKER_STALLED, resent=len(pending), stall=run.stalls):
        return
    if not run.fanned_out:
        # Where the lost fan-out got to is unknown: it starts again (enrolment counts each customer once,
        # and a chunk verifies only customers still pending).
        queue.send([FanOut(run.run_id)])
    elif pending:
        queue.send(_chunks(run.run_id, pending, resent=True))
    logger.warning("Run %s made no progress for %d s: the work of %d customers was sent again.",
                   run.run_id, STALL_AFTER.total_seconds(), len(pending))


def fan_out(customers: CustomerStore, runs: RunStore, queue: WorkQueue, work: FanOut) -> None:
    """Enrol the run's customers listing after listing, a slice at a time, sending each slice's chunks as soon as it is
    enrolled: workers start after one enrolment transaction, and the queue never runs dry (a queue found
    empty makes the host back off its polling, up to a minute in Azure, while the workers wait). After
    FAN_OUT_SECONDS the rest goes to a new fan-out message, so a redelivery repeats at most that much.
    The run is marked fanned out once the last listing is enrolled."""
    deadline = time.monotonic() + FAN_OUT_SECONDS
    after = work.after
    while True:
        ids, after = customers.list_ids(top=MAX_TOP, after=after)
        for start in range(0, len(ids), ENROL_SLICE):
            piece = ids[start:start + ENROL_SLICE]
            if not runs.enrol(work.run_id, piece):
                return  # fanned out meanwhile (by a copy of this work sent again), or unknown
            queue.send(_chunks(work.run_id, piece))
        if after is None:
            runs.mark_fanned_out(work.run_id)
            _finish(runs, work.run_id)
            return
        if time.monotonic() >= deadline:
            queue.send([FanOut(work.run_id, after)])
            return


def _chunks(run_id: str, ids: list[str], *, resent: bool = False) -> list[Work]:
    return [Chunk(run_id, tuple(ids[i:i + CHUNK_SIZE]), resent) for i in range(0, len(ids), CHUNK_SIZE)]


def verify_chunk(ctx: VerifyContext, runs: RunStore, chunk: Chunk) -> None:
    """Verify every customer of the chunk still pending in its run (a copy of this work, sent again, may have
    done some), the limiter bounding how many at once in this process, and record the results in groups as
    they come in: one write for a group's records and one for its progress, so a slow customer holds up only
    itself. While verifications are in flight and none has finished for ALIVE_EVERY, the run is told this
    worker is alive, so a slow chunk is not taken for a lost one. A group whose recording failed for a reason
    of our own (storage down) is left pending and the message fails, so the host delivers it again; those
    already recorded are not counted twice. The status events of every group are relayed together at the end."""
    todo = runs.list_pending(chunk.run_id, chunk.customer_ids)
    if not todo:
        return
    read = ctx.customers.get_many(todo)
    gone = {customer_id: None for customer_id in todo if customer_id not in read}
    errors: list[BaseException] = []
    if gone:
        _complete(runs, chunk.run_id, gone, errors)
    pending = {ctx.pool.submit(check, ctx, customer, in_run=True) for customer in read.values()}
    held: list[list[StatusEvent]] = []  # the events of each group's write, relayed once the chunk is recorded
    try:
        _verify_pending(ctx, runs, chunk.run_id, pending, errors, held)
    finally:
        relay_written(ctx, held)
    _finish(runs, chunk.run_id)
    if errors:
        raise errors[0]


def _verify_pending(ctx: VerifyContext, runs: RunStore, run_id: str, pending: set[Future[ResultToRecord | Customer]],
                    errors: list[BaseException], held: list[list[StatusEvent]]) -> None:
    while pending:
        finished, pending = wait(pending, timeout=ALIVE_EVERY, return_when=FIRST_COMPLETED)
        if not finished:
            _alive(runs, run_id)
            continue
        if pending:  # those about to finish join this group
            more, pending = wait(pending, timeout=GROUP_WAIT)
            finished |= more
        checked = []
        for future in finished:
            if future.exception() is not None:
                errors.append(future.exception())
            else:
                checked.append(future.result())
        _record_group(ctx, runs, run_id, checked, errors, held)


def _record_group(ctx: VerifyContext, runs: RunStore, run_id: str, checked: list[ResultToRecord | Customer],
                  errors: list[BaseException], held: list[list[StatusEvent]]) -> None:
    stored = [one for one in checked if isinstance(one, Customer)]  # skipped, and said so on the record
    try:
        stored += record_many(ctx, [one for one in checked if isinstance(one, ResultToRecord)], run_id=run_id,
                              held=held)
    except Exception as err:  # noqa: BLE001 - the group stays pending; the message fails after the rest
        errors.append(err)
    if stored:
        _complete(runs, run_id, {one.customer_id: one.last_verification_status for one in stored}, errors)


def _complete(runs: RunStore, run_id: str, outcomes: dict[str, Status | None], errors: list[BaseException]) -> None:
    try:
        runs.complete_many(run_id, outcomes)
    except Exception as err:  # noqa: BLE001 - as above
        errors.append(err)


def _alive(runs: RunStore, run_id: str) -> None:
    try:
        runs.mark_alive(run_id)
    except Exception as err:  # noqa: BLE001 - only a hint to the watch; the verifications go on
        logger.warning("Run %s: could not say this worker is alive: %s.", run_id, type(err).__name__)


def _finish(runs: RunStore, run_id: str) -> None:
    run = runs.finish(run_id)
    if run is None or run.finished_at is None:
        return
    by_status = ", ".join(f"{status.value} {run.by_status.get(status, 0)}" for status in Status)
    given_up = f", {run.given_up} given up" if run.given_up else ""
    logger.info(
        "Run %s (%s) finished: %d tenants, %s%s, in %.1f s.",
        run.run_id, run.trigger.value, run.total, by_status, given_up,
        (run.finished_at - run.started_at).total_seconds(),
    )

