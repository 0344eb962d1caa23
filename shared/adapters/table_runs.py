"""RunStore on Azure Table Storage: the VerificationRuns table, exact however many workers report at once.

Each run is a partition of its own (PartitionKey = run id): the run row ("!run": trigger, startedAt, expected,
enrolledThrough, fannedOut, finishedAt, and what recovered it: resent, stalls, causes), one slice row per group of
customers enrolled together ("$<its last customerId>": the slice's ids), one marker row per customer completed
(RowKey = customerId, `outcome` a Status, "gone" or "givenUp"), the row a worker rewrites to say it is still
verifying ("~alive"), and count shards ("~count-NN": total, one column per Status and givenUp, table_counter).

Customers are enrolled in id order: a slice goes in one entity-group transaction with its count change and the
run row's `enrolledThrough` (the last id enrolled) under the run row's ETag, so each customer is enrolled and
counted once whatever a queue redelivers, and nobody joins a run once it is fanned out. A customer is pending
while it is in a slice and has no marker; a marker is created with its count change, so a customer completes and
counts once (a second completion finds the marker and changes nothing).

The partition "!runs" holds the pointer to the running run ("~current") and an index row per run (RowKey =
inverted start time + run id), written together in one transaction when a run starts: the pointer moves
under its ETag, so of two concurrent starts exactly one makes a new run.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from ..domain.errors import Conflict
from ..domain.models import Status
from ..domain.rules import MAX_BATCH, is_customer_id
from ..domain.runs import RecoveryCause, Run, Trigger, is_run_id, is_running
from .table_columns import newest_first_key, plain_datetime, utc
from .table_common import TableAccess, check_page_size, delete_partition, get_row, if_unchanged, storage_call
from .table_counter import ATTEMPTS, COUNT_PREFIX, ShardedCounts

logger = logging.getLogger(__name__)

RUN_ROW = "!run"  # "!" sorts before every customerId, as the count shards ("~count-") sort after them
RUNS_PARTITION = "!runs"  # "!" is no run id character: no run's partition can be this one
CURRENT_RUN_ROW = "~current"  # in RUNS_PARTITION, after the index rows (which start with digits)
PRUNED_ROW = "~pruned"  # in RUNS_PARTITION: the index key of the newest run whose markers were deleted
ALIVE_ROW = "~alive"  # a worker's "still verifying" for the run; between the markers and the count shards
SLICE_PREFIX = "$"  # slice rows: after the run row, before every customerId (whose characters all sort after "-")
SLICE_END = "%"  # the character after "$": the end of the slice rows
SLICE_MOST = 98  # customer ids a slice row holds (64 characters at most each: well within a column's 64 KiB)
GONE = "gone"  # the customer was deleted during the run: it left the run
GIVEN_UP = "givenUp"  # the run stopped trying to verify the customer (a marker's outcome, and its count)
TOTAL = "total"
RUN_COUNT_COLUMNS = (TOTAL, *(status.value for status in Status), GIVEN_UP)

COUNTS = ShardedCounts(RUN_COUNT_COLUMNS)
PRUNE_AT_MOST = 48  # runs pruned per call (two days of hourly runs): a backlog is worked off day by day


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TableRunStore:
    """Implements ports.RunStore. Creates its table on first use (and again if storage lost it).

    A run's last progress is the newest write to its run row or count shards, as the service stamped it;
    `clock` gives "now" to judge staleness against (tests move it).
    """

    def __init__(
        self, service: TableServiceClient, *, table: str = "VerificationRuns", clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._name = table
        self._on_table = TableAccess(service, table)
        self._clock = clock

    def start(self, run: Run, *, stale_after: timedelta) -> tuple[Run, bool]:
        if not is_run_id(run.run_id):
            raise ValueError(f"{run.run_id!r} is not a run id.")
        if run.trigger not in (Trigger.HTTP, Trigger.TIMER):
            raise ValueError(f"A run is started by http or timer, not {run.trigger}.")
        with storage_call("start a run"):
            return self._on_table(lambda table: self._start(table, run, stale_after))

    def enrol(self, run_id: str, customer_ids: list[str]) -> bool:
        """Enrol the customers after the last one enrolled, in id order (a fan-out lists them so); those at or
        before it are taken as enrolled already, by an earlier delivery of the same work."""
        if not is_run_id(run_id):
            raise ValueError(f"{run_id!r} is not a run id.")
        wanted = sorted(set(customer_ids))
        if bad := [c for c in wanted if not is_customer_id(c)]:
            raise ValueError(f"Not customer ids: {bad[:3]!r}.")
        with storage_call("enrol customers in a run"):
            return self._on_table(lambda table: _enrol(table, run_id, wanted))

    def mark_fanned_out(self, run_id: str) -> None:
        if not is_run_id(run_id):
            raise ValueError(f"{run_id!r} is not a run id.")
        with storage_call("mark a run fanned out"):
            self._on_table(lambda table: _fanned_out(table, run_id))

    def complete(self, run_id: str, customer_id: str, status: Status | None) -> bool:
        return self.complete_many(run_id, {customer_id: status}) == 1

    def complete_many(self, run_id: str, outcomes: Mapping[str, Status | None]) -> int:
        """A read of the slices holding them and one transaction for all of them (a chunk's ids are adjacent)."""
        if len(outcomes) > MAX_BATCH:
            raise ValueError(f"At most {MAX_BATCH} customers are completed at once.")
        ids = sorted(c for c in outcomes if is_customer_id(c))
        if not is_run_id(run_id) or not ids:
            return 0
        with storage_call("record a run's progress"):
            return self._on_table(lambda table: _complete(table, run_id, ids, outcomes))

    def list_pending(self, run_id: str, among: Sequence[str] | None = None) -> list[str]:
        """A read of the slices and one of the markers over the ids' range (a chunk's ids are adjacent), or of the
        whole run for `among` None."""
        ids = None if among is None else sorted({c for c in among if is_customer_id(c)})
        if not is_run_id(run_id) or ids == []:
            return []
        with storage_call("read a run's outstanding customers"):
            return self._on_table(lambda table: _pending(table, run_id, ids))

    def mark_alive(self, run_id: str) -> None:
        """Rewrites one row, unconditionally: its timestamp is what counts."""
        if not is_run_id(run_id):
            return
        with storage_call("tell a run a worker is alive"):
            self._on_table(lambda table: table.upsert_entity(
                {"PartitionKey": run_id, "RowKey": ALIVE_ROW}, mode=UpdateMode.REPLACE))

    def give_up(self, run_id: str, customer_ids: Sequence[str] | None, *, cause: RecoveryCause) -> int:
        if not is_run_id(run_id):
            return 0
        with storage_call("give up customers of a run"):
            return self._on_table(lambda table: _give_up(table, run_id, customer_ids, RecoveryCause(cause)))

    def note_recovery(self, run_id: str, *, cause: RecoveryCause, resent: int = 0, stall: int | None = None) -> bool:
        if not is_run_id(run_id):
            return False
        with storage_call("note a run's recovery"):
            return self._on_table(lambda table: _recovering(table, run_id, RecoveryCause(cause), resent, stall))

    def finish(self, run_id: str) -> Run | None:
        """Write finishedAt once the run is fanned out and every customer completed; the run, to the one caller
        that wrote it. Callers ask after their own writes (mark_fanned_out, complete), so whichever asks after the
        last of those sees the run done. Until then `get` already says finished (the same moment)."""
        if not is_run_id(run_id):
            return None
        with storage_call("finish a run"):
            return self._on_table(lambda table: _finish(table, run_id))

    def prune(self, *, started_before: datetime) -> int:
        """Delete the markers of the runs started before `started_before`; their run row and count shards stay,
        so they are still listed with their figures. The "~pruned" row remembers the newest run pruned, so each
        run is pruned once. Returns how many runs were pruned now."""
        with storage_call("prune old runs"):
            return self._on_table(lambda table: _prune(table, started_before))

    def get(self, run_id: str) -> Run | None:
        if not is_run_id(run_id):
            return None  # not even a run id: no lookup, and never one of the "!" partitions
        with storage_call("read a run"):
            return self._on_table(lambda table: _read(table, run_id))

    def list_recent(self, *, top: int) -> list[Run]:
        """One query of the index, then one per run for its counts (the route asks for at most 100)."""
        check_page_size(top, "top")
        with storage_call("list runs"):
            return self._on_table(lambda table: _recent(table, top))

    def _start(self, table: TableClient, run: Run, stale_after: timedelta) -> tuple[Run, bool]:
        created = False
        for _ in range(ATTEMPTS):
            pointer = get_row(table, RUNS_PARTITION, CURRENT_RUN_ROW)
            running = _read(table, pointer["runId"]) if pointer is not None else None
            if running is not None and is_running(running, now=self._clock(), stale_after=stale_after):
                if created:
                    _discard(table, run.run_id)
                return running, False
            if not created:
                try:
                    table.create_entity(run_to_entity(run))
                except ResourceExistsError:
                    raise ValueError(f"The run id {run.run_id!r} is taken.") from None
                created = True
            # Until the pointer names it, nobody knows this run: a loser's row is simply removed.
            operations = [_pointer_operation(pointer, run.run_id), ("create", run_index_entity(run))]
            try:
                table.submit_transaction(operations)
            except TableTransactionError as err:
                if err.index == 0 and err.status_code in (409, 412):
                    continue  # another start moved the pointer first: look at its run
                raise
            return _read(table, run.run_id) or run, True
        raise Conflict("modifiedConcurrently", "Runs kept starting concurrently; retry in a moment.")


# --- on the table, inside storage_call ---------------------------------------------------------------


def _read(table: TableClient, run_id: str) -> Run | None:
    head, shards, alive = _run_rows(table, run_id)
    if head is None:
        return None
    return run_from_entities(head, shards, COUNTS.sums(shards), alive)


def _recent(table: TableClient, top: int) -> list[Run]:
    index = table.query_entities(
        "PartitionKey eq @pk and RowKey lt @end", parameters={"pk": RUNS_PARTITION, "end": "~"},
        results_per_page=top, select=["runId"],
    )
    runs: list[Run] = []
    for row in index:
        run = _read(table, row["runId"])
        if run is not None:  # its start failed half-way: nothing to show
            runs.append(run)
        if len(runs) == top:
            break
    return runs


def _enrol(table: TableClient, run_id: str, wanted: list[str]) -> bool:
    for _ in range(ATTEMPTS + len(wanted) // SLICE_MOST):
        head = get_row(table, run_id, RUN_ROW)
        if head is None or head.get("fannedOut"):
            # A fan-out message redelivered after the run was fanned out (or a run that is gone): by then every
            # customer of the run was enrolled, or its enrolment was stopped, so nobody more joins it.
            logger.warning("Run %s is fanned out or unknown: customers not enrolled.", run_id)
            return False
        through = str(head.get("enrolledThrough") or "")
        fresh = [c for c in wanted if c > through][:SLICE_MOST]
        if not fresh:
            return True
        enrolled = {"PartitionKey": run_id, "RowKey": SLICE_PREFIX + fresh[-1], "ids": ",".join(fresh)}
        progress = {"PartitionKey": run_id, "RowKey": RUN_ROW, "enrolledThrough": fresh[-1]}
        operations = [("create", enrolled), ("update", progress, _if_unchanged(head, UpdateMode.MERGE))]
        try:
            COUNTS.write(table, run_id, operations, {TOTAL: len(fresh)})
        except TableTransactionError as err:
            if err.index in (0, 1) and err.status_code in (409, 412):
                continue  # another delivery enrolled them, or the run row changed (fanned out?): look again
            raise
    raise Conflict("modifiedConcurrently", "Customers kept being enrolled concurrently; retry in a moment.")


def _fanned_out(table: TableClient, run_id: str) -> None:
    for _ in range(ATTEMPTS):
        head = get_row(table, run_id, RUN_ROW)
        if head is None:
            logger.warning("Run %s is unknown: not marked fanned out.", run_id)
            return
        if head.get("fannedOut"):
            return
        try:
            _merge(table, head, {"fannedOut": True})
            return
        except ResourceModifiedError:
            continue  # a redelivered enrolment touched the run row: look again
    raise Conflict("modifiedConcurrently", "The run kept changing; retry in a moment.")


def _complete(table: TableClient, run_id: str, ids: list[str], outcomes: Mapping[str, Status | None]) -> int:
    marks = {c: Status(status).value if status is not None else GONE for c, status in outcomes.items()}
    enrolled = _enrolled(table, run_id, ids)
    return _mark(table, run_id, [c for c in ids if c in enrolled], marks)


def _mark(table: TableClient, run_id: str, ids: list[str], outcomes: Mapping[str, str]) -> int:
    """Create the markers of these enrolled customers (at most MAX_BATCH) with their outcome (a Status, GONE or
    GIVEN_UP) and the counts, in one transaction; how many were created. A customer completed before (a message
    delivered twice) has its marker already: it is left out and the rest written again."""
    todo = list(ids)
    for _ in range(len(todo) + ATTEMPTS):
        if not todo:
            return 0
        operations, delta = [], Counter[str]()
        for customer_id in todo:
            outcome = outcomes[customer_id]
            operations.append(("create", {"PartitionKey": run_id, "RowKey": customer_id, "outcome": outcome}))
            delta.update({outcome: 1} if outcome != GONE else {TOTAL: -1})
        try:
            COUNTS.write(table, run_id, operations, delta)
        except TableTransactionError as err:
            if 0 <= err.index < len(todo) and err.status_code == 409:
                del todo[err.index]  # completed already
                continue
            raise
        return len(todo)
    raise Conflict("modifiedConcurrently", "The run kept changing; retry in a moment.")


def _pending(table: TableClient, run_id: str, ids: list[str] | None) -> list[str]:
    enrolled = _enrolled(table, run_id, ids)
    if not enrolled:
        return []
    marked = {row["RowKey"] for row in table.query_entities(
        "PartitionKey eq @pk and RowKey ge @first and RowKey le @last",
        parameters={"pk": run_id, "first": min(enrolled), "last": max(enrolled)}, select=["RowKey"])}
    return sorted(c for c in enrolled if c not in marked)


def _enrolled(table: TableClient, run_id: str, ids: list[str] | None) -> set[str]:
    """Those of `ids` (sorted; None: every customer) that the run enrolled, from its slice rows: slices hold
    ascending, disjoint ranges, so the first slice that ends at or after an id is the one that may hold it."""
    if ids == []:
        return set()
    if ids is not None and (known := SLICES_SEEN.enrolled(table.url, run_id, ids)) is not None:
        return known
    rows = table.query_entities(
        "PartitionKey eq @pk and RowKey ge @first and RowKey lt @end",
        parameters={"pk": run_id, "first": SLICE_PREFIX + (ids[0] if ids else ""), "end": SLICE_END},
        select=["RowKey", "ids"], results_per_page=4 if ids else None)
    found: set[str] = set()
    for row in rows:
        members = [c for c in str(row.get("ids") or "").split(",") if c]
        found.update(members)
        last = row["RowKey"][len(SLICE_PREFIX):]
        if members:
            SLICES_SEEN.add(table.url, run_id, members[0], last, members)
        if ids is not None and last >= ids[-1]:
            break
    return found if ids is None else found & set(ids)


class _SlicesSeen:
    """The slice rows this process read lately. A slice never changes once written (it is created once and goes
    only when its run is pruned, a week later), so a worker that read its chunk's slice to list what is pending
    answers from here whether the customers of each group it completes are enrolled, without another request."""

    def __init__(self, most: int = 256, keep_for: float = 600.0) -> None:
        self._slices: OrderedDict[tuple[str, str, str], tuple[float, str, frozenset[str]]] = OrderedDict()
        self._most, self._keep_for = most, keep_for
        self._lock = threading.Lock()

    def add(self, scope: str, run_id: str, first: str, last: str, members: list[str]) -> None:
        with self._lock:
            self._slices[(scope, run_id, last)] = (time.monotonic() + self._keep_for, first, frozenset(members))
            self._slices.move_to_end((scope, run_id, last))
            while len(self._slices) > self._most:
                self._slices.popitem(last=False)

    def forget(self, scope: str, run_id: str) -> None:
        with self._lock:
            for key in [key for key in self._slices if key[:2] == (scope, run_id)]:
                del self._slices[key]

    def enrolled(self, scope: str, run_id: str, ids: list[str]) -> set[str] | None:
        """Those of `ids` enrolled, when slices seen cover every one of them (an id in a slice's range but not in
        it was never enrolled); None when one is not covered."""
        now = time.monotonic()
        with self._lock:
            spans = [(first, last, members) for (where, run, last), (until, first, members) in self._slices.items()
                     if where == scope and run == run_id and until > now]
        found: set[str] = set()
        for customer_id in ids:
            span = next((s for s in spans if s[0] <= customer_id <= s[1]), None)
            if span is None:
                return None
            if customer_id in span[2]:
                found.add(customer_id)
        return found


SLICES_SEEN = _SlicesSeen()


def _give_up(table: TableClient, run_id: str, customer_ids: Sequence[str] | None, cause: RecoveryCause) -> int:
    # The cause first: whoever sees the run finished because of this sees why.
    if not _recovering(table, run_id, cause, 0, None):
        return 0
    ids = _pending(table, run_id, None if customer_ids is None else sorted(set(customer_ids)))
    given_up = 0
    for start in range(0, len(ids), MAX_BATCH):
        batch = ids[start:start + MAX_BATCH]
        given_up += _mark(table, run_id, batch, dict.fromkeys(batch, GIVEN_UP))
    return given_up


def _recovering(table: TableClient, run_id: str, cause: RecoveryCause, resent: int, stall: int | None) -> bool:
    for _ in range(ATTEMPTS):
        head = get_row(table, run_id, RUN_ROW)
        if head is None:
            return False
        stalls = int(head.get("stalls") or 0)
        if stall is not None and stalls != stall:
            return False  # another watcher counted this stall, and recovers it
        values = {"causes": causes_text(causes_of(head.get("causes")) | {cause}),
                  "resent": int(head.get("resent") or 0) + resent, "stalls": stalls + (stall is not None)}
        try:
            _merge(table, head, values)
            return True
        except ResourceModifiedError:
            continue  # enrolment or the finish touched the run row: look again
    raise Conflict("modifiedConcurrently", "The run kept changing; retry in a moment.")


def _finish(table: TableClient, run_id: str) -> Run | None:
    for _ in range(ATTEMPTS):
        head, shards, alive = _run_rows(table, run_id)
        if head is None or head.get("finishedAt") is not None:
            return None
        run = run_from_entities(head, shards, COUNTS.sums(shards), alive)
        if run.finished_at is None:
            return None  # not fanned out yet, or customers still pending
        try:
            # The moment `get` has been answering all along: the last write before the run was done.
            _merge(table, head, {"finishedAt": run.finished_at})
        except ResourceModifiedError:
            continue  # another finisher came first, or the run row changed: look again
        return _read(table, run_id) or run
    logger.warning("Run %s: finishedAt not written after %d attempts; reads derive it.", run_id, ATTEMPTS)
    return None


def _prune(table: TableClient, started_before: datetime) -> int:
    mark = get_row(table, RUNS_PARTITION, PRUNED_ROW)
    # Older runs have larger index keys: those started before the moment, and newer than the last one pruned.
    index = list(table.query_entities(
        "PartitionKey eq @pk and RowKey gt @older_than and RowKey lt @newer_than",
        parameters={"pk": RUNS_PARTITION, "older_than": run_index_key(started_before),
                    "newer_than": mark["through"] if mark else "~"},
        select=["RowKey", "runId"],
    ))
    oldest_first = index[::-1][:PRUNE_AT_MOST]
    for row in oldest_first:
        SLICES_SEEN.forget(table.url, row["runId"])
        deleted = delete_partition(table, row["runId"], between=(RUN_ROW, COUNT_PREFIX))
        # Marked run by run: a prune cut short (time-out, storage down) goes on from here next time.
        table.upsert_entity({"PartitionKey": RUNS_PARTITION, "RowKey": PRUNED_ROW, "through": row["RowKey"]})
        logger.info("Run %s: %d markers deleted.", row["runId"], deleted)
    return len(oldest_first)


def _discard(table: TableClient, run_id: str) -> None:
    try:
        table.delete_entity(run_id, RUN_ROW)
    except AzureError as error:  # an orphan row nobody points to: harmless, not worth failing for
        logger.warning("Could not remove the row of run %s that lost its start: %s.", run_id, type(error).__name__)


def _run_rows(table: TableClient, run_id: str) -> tuple[Any | None, list[Any], Any | None]:
    """The run row, the count shards and the alive row, in one query."""
    rows = table.query_entities(
        # Spaces around the parentheses: the SDK finds parameters by splitting the filter on spaces.
        "PartitionKey eq @pk and ( RowKey eq @run or RowKey eq @alive or ( RowKey ge @start and RowKey lt @end ) )",
        parameters={"pk": run_id, "run": RUN_ROW, "alive": ALIVE_ROW, "start": COUNT_PREFIX,
                    "end": COUNT_PREFIX + "~"},
    )
    head, shards, alive = None, [], None
    for row in rows:
        if row["RowKey"] == RUN_ROW:
            head = row
        elif row["RowKey"] == ALIVE_ROW:
            alive = row
        else:
            shards.append(row)
    return head, shards, alive


def _merge(table: TableClient, entity: Any, values: dict[str, Any]) -> None:
    """Set `values` on a row unless it changed since `entity` was read (ResourceModifiedError then)."""
    table.update_entity({"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"], **values},
                        **_if_unchanged(entity, UpdateMode.MERGE))


def _pointer_operation(pointer: Any | None, run_id: str) -> tuple[Any, ...]:
    entity = {"PartitionKey": RUNS_PARTITION, "RowKey": CURRENT_RUN_ROW, "runId": run_id}
    if pointer is None:
        return ("create", entity)
    return ("update", entity, _if_unchanged(pointer))


def _if_unchanged(entity: Any, mode: UpdateMode = UpdateMode.REPLACE) -> dict[str, Any]:
    return if_unchanged(entity.metadata["etag"], mode)


# --- entities ------------------------------------------------------------------------------------------


def run_to_entity(run: Run) -> dict[str, Any]:
    return {
        "PartitionKey": run.run_id,
        "RowKey": RUN_ROW,
        "trigger": Trigger(run.trigger).value,
        "startedAt": utc(run.started_at),
        "fannedOut": False,
        "expected": run.expected,
    }


def run_index_entity(run: Run) -> dict[str, Any]:
    return {"PartitionKey": RUNS_PARTITION, "RowKey": f"{run_index_key(run.started_at)}-{run.run_id}",
            "runId": run.run_id}


def run_index_key(started_at: datetime) -> str:
    """Index RowKeys sort newest first: every run started before `started_at` has a larger key than this."""
    return newest_first_key(started_at)


def run_from_entities(head: Any, shards: list[Any], counts: dict[str, int], alive: Any | None = None) -> Run:
    """The run from its run row, its count shards and their sums, and the row of a worker saying it is alive.
    Its last progress is the newest write to any of them (every marker change changes a shard). Once it is
    fanned out and every customer completed or given up, it is finished at that same moment, before finish()
    writes the moment down as finishedAt."""
    by_status = {status: counts[status.value] for status in Status}
    completed = sum(by_status.values())
    given_up = counts.get(GIVEN_UP, 0)
    rows = [head, *shards, *([alive] if alive is not None else [])]
    stamps = [plain_datetime(row.metadata.get("timestamp")) for row in rows]
    last_progress = max((stamp for stamp in stamps if stamp is not None), default=None)
    finished = plain_datetime(head.get("finishedAt"))
    if finished is None and head.get("fannedOut") and completed + given_up == counts[TOTAL]:
        finished = last_progress
    started = plain_datetime(head.get("startedAt"))
    if started is None:
        raise ValueError("A run row has no startedAt.")
    return Run(
        run_id=head["PartitionKey"],
        trigger=Trigger(head["trigger"]),
        started_at=started,
        finished_at=finished,
        total=counts[TOTAL],
        completed=completed,
        by_status=by_status,
        last_progress_at=last_progress,
        fanned_out=bool(head.get("fannedOut")),
        given_up=given_up,
        resent=int(head.get("resent") or 0),
        stalls=int(head.get("stalls") or 0),
        causes=causes_of(head.get("causes")),
        expected=int(head.get("expected") or 0),
    )


def causes_text(causes: frozenset[RecoveryCause]) -> str:
    """A run's recovery causes as its run row keeps them: one column, comma-separated."""
    return ",".join(sorted(cause.value for cause in causes))


def causes_of(text: Any) -> frozenset[RecoveryCause]:
    known = {cause.value for cause in RecoveryCause}  # a cause a newer version wrote is left out
    return frozenset(RecoveryCause(c) for c in str(text or "").split(",") if c in known)
