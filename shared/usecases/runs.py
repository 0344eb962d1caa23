"""Runs: Verify All and the timer start one, a fan-out enrols every tenant page by page and sends them in
chunks over the work queue, and queue workers verify the chunks. One run at a time."""
from __future__ import annotations

import logging
import secrets as random_source
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta

from ..domain.models import Status, Tenant
from ..domain.ports import TenantStore
from ..domain.rules import MAX_PAGE_SIZE
from ..domain.verification import Chunk, FanOut, Run, RunStore, Trigger, Work, WorkQueue
from ..domain.work_messages import decode
from .verify import Verified, VerifyContext, check, record_many

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=30)  # a run with no progress for this long no longer counts as running
CHUNK_SIZE = 25  # customers per queue message: small enough that a redelivery repeats little
FAN_OUT_SECONDS = 20.0  # one fan-out message enrols pages for this long, then hands on to the next
ENROL_SLICE = 3 * CHUNK_SIZE  # customers enrolled (one transaction: at most 98) and then sent, at a time
MARKERS_KEPT = timedelta(days=7)  # how long a run remembers each customer's outcome (its counts stay)
GROUP_WAIT = 0.05  # seconds a finished verification waits for others to be recorded with it


def start_run(runs: RunStore, queue: WorkQueue, *, trigger: Trigger, now: datetime | None = None) -> tuple[Run, bool]:
    """Start a run, or return the one running; (run, started now)."""
    now = now or datetime.now(UTC)
    run_id = f"{now:%Y%m%d%H%M%S}-{random_source.token_hex(8)}"  # time-ordered, and unguessable
    proposed = Run(run_id=run_id, trigger=trigger, started_at=now, finished_at=None, total=0, completed=0,
                   by_status=dict.fromkeys(Status, 0))
    run, started = runs.start(proposed, stale_after=STALE_AFTER)
    if started:
        queue.send([FanOut(run.run_id)])
        logger.info("Run %s (%s) started.", run.run_id, run.trigger.value)
    else:
        logger.info("Run %s is still running; no new %s run.", run.run_id, trigger.value)
    return run, started


def prune_runs(runs: RunStore, *, now: datetime | None = None) -> int:
    """Maintenance: drop the per-customer markers of runs older than MARKERS_KEPT (a run's markers are
    only needed while it runs; without this they grow by one row per customer per run)."""
    return runs.prune(started_before=(now or datetime.now(UTC)) - MARKERS_KEPT)


def handle_work(ctx: VerifyContext, runs: RunStore, queue: WorkQueue, message: str) -> None:
    """What a queue worker does with one message of `verify-requests`."""
    try:
        work: Work = decode(message)
    except ValueError:
        logger.warning("A verify-requests message this app did not send was dropped.")
        return
    if isinstance(work, FanOut):
        fan_out(ctx.tenants, runs, queue, work)
    else:
        verify_chunk(ctx, runs, work)


def fan_out(tenants: TenantStore, runs: RunStore, queue: WorkQueue, work: FanOut) -> None:
    """Enrol the run's tenants page after page, a slice at a time, sending each slice's chunks as soon as it is
    enrolled: workers start after one enrolment transaction, and the queue never runs dry (a queue found
    empty makes the host back off its polling, up to a minute in Azure, while the workers wait). After
    FAN_OUT_SECONDS the rest goes to a new fan-out message, so a redelivery repeats at most that much.
    The run is marked fanned out once the last page is enrolled."""
    deadline = time.monotonic() + FAN_OUT_SECONDS
    after = work.after
    while True:
        ids, after = tenants.list_ids(top=MAX_PAGE_SIZE, after=after)
        for start in range(0, len(ids), ENROL_SLICE):
            piece = ids[start:start + ENROL_SLICE]
            runs.enrol(work.run_id, piece)
            queue.send(_chunks(work.run_id, piece))
        if after is None:
            runs.fanned_out(work.run_id)
            _finish(runs, work.run_id)
            return
        if time.monotonic() >= deadline:
            queue.send([FanOut(work.run_id, after)])
            return


def _chunks(run_id: str, ids: list[str]) -> list[Work]:
    return [Chunk(run_id, tuple(ids[i:i + CHUNK_SIZE])) for i in range(0, len(ids), CHUNK_SIZE)]


def verify_chunk(ctx: VerifyContext, runs: RunStore, chunk: Chunk) -> None:
    """Verify every customer of the chunk (the limiter bounds how many at once in this process), recording
    the results in groups as they come in: one write for a group's records and one for its progress, so a
    slow customer holds up only itself. A group whose recording failed for a reason of our own (storage down)
    is left pending and the message fails, so the host delivers it again; those already recorded are not
    counted twice."""
    read = ctx.tenants.get_many(chunk.customer_ids)
    gone = {customer_id: None for customer_id in chunk.customer_ids if customer_id not in read}
    errors: list[BaseException] = []
    if gone:
        _complete(runs, chunk.run_id, gone, errors)
    pool = _pool(ctx.limiter.ceiling)
    pending = {pool.submit(check, ctx, tenant, in_run=True) for tenant in read.values()}
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        if pending:  # those about to finish join this group
            more, pending = wait(pending, timeout=GROUP_WAIT)
            finished |= more
        checked = []
        for future in finished:
            if future.exception() is not None:
                errors.append(future.exception())
            else:
                checked.append(future.result())
        _record_group(ctx, runs, chunk.run_id, checked, errors)
    _finish(runs, chunk.run_id)
    if errors:
        raise errors[0]


def _record_group(ctx: VerifyContext, runs: RunStore, run_id: str, checked: list[Verified | Tenant],
                  errors: list[BaseException]) -> None:
    stored = [one for one in checked if isinstance(one, Tenant)]  # skipped, and said so on the record
    try:
        stored += record_many(ctx, [one for one in checked if isinstance(one, Verified)])
    except Exception as err:  # noqa: BLE001 - the group stays pending; the message fails after the rest
        errors.append(err)
    if stored:
        _complete(runs, run_id, {tenant.customer_id: tenant.last_verification_status for tenant in stored}, errors)


def _complete(runs: RunStore, run_id: str, outcomes: dict[str, Status | None], errors: list[BaseException]) -> None:
    try:
        runs.complete_many(run_id, outcomes)
    except Exception as err:  # noqa: BLE001 - as above
        errors.append(err)


def _finish(runs: RunStore, run_id: str) -> None:
    run = runs.finish(run_id)
    if run is None or run.finished_at is None:
        return
    by_status = ", ".join(f"{status.value} {run.by_status.get(status, 0)}" for status in Status)
    logger.info(
        "Run %s (%s) finished: %d tenants, %s, in %.1f s.",
        run.run_id, run.trigger.value, run.total, by_status, (run.finished_at - run.started_at).total_seconds(),
    )


# One pool of verification threads per process, shared by every message the worker handles at once: threads
# are reused instead of started per chunk, and never more than VERIFY_CONCURRENCY of them exist.
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(size: int) -> ThreadPoolExecutor:
    with _pools_lock:
        if size not in _pools:
            _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="verify")
        return _pools[size]
