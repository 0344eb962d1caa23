"""TableRunStore against a real Azurite: exact counts under concurrent and repeated deliveries, one run at a time."""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from shared.adapters.storage_clients import table_service_from_config
from shared.adapters.table_counter import COUNT_PREFIX
from shared.adapters.table_runs import RUN_ROW, RUNS_PARTITION, SLICE_PREFIX, TableRunStore
from shared.adapters.table_transactions import LeanTransactionClient
from shared.domain.errors import DependencyUnavailable
from shared.domain.models import Status
from shared.domain.rules import MAX_BATCH
from shared.domain.runs import Run, Trigger, is_run_id

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
ZERO = {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 0, Status.FAILED: 0}


@pytest.fixture
def table_name() -> str:
    return f"Runs{uuid.uuid4().hex[:16]}"


@pytest.fixture
def store(tables, table_name) -> TableRunStore:
    return TableRunStore(tables, table=table_name)


def _run_id(at: datetime | None = None) -> str:
    return f"{at or datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"  # as the runs use case makes them


def _run(started_at: datetime | None = None, trigger: Trigger = Trigger.HTTP) -> Run:
    started_at = started_at or datetime.now(UTC)
    return Run(_run_id(started_at), trigger, started_at, None, 0, 0, dict(ZERO))


def _started(store: TableRunStore, **kwargs) -> Run:
    run, new = store.start(_run(**kwargs), stale_after=HOUR)
    assert new
    return run


def _rows(tables: TableServiceClient, table: str, partition: str) -> list[dict]:
    rows = tables.get_table_client(table).query_entities("PartitionKey eq @pk", parameters={"pk": partition})
    return list(rows)


def _status_of(n: int) -> Status:
    return (Status.SUCCEEDED, Status.FAILED, Status.NOT_VERIFIED)[n % 3]


# --- start: one run at a time ----------------------------------------------------------------------------------


def test_a_started_run_is_empty_and_is_the_running_one(store):
    asked = _run(trigger=Trigger.TIMER)
    run, new = store.start(asked, stale_after=HOUR)
    assert new
    assert (run.run_id, run.trigger, run.started_at) == (asked.run_id, Trigger.TIMER, asked.started_at)
    assert (run.total, run.completed, run.by_status, run.finished_at) == (0, 0, ZERO, None)
    assert run.last_progress_at is not None
    assert store.get(asked.run_id) == run

    again, new = store.start(_run(), stale_after=HOUR)
    assert not new
    assert again.run_id == asked.run_id


def test_concurrent_starts_make_one_run(store, tables, table_name):
    asked = [_run() for _ in range(8)]
    barrier = threading.Barrier(len(asked))

    def start(run: Run) -> tuple[Run, bool]:
        barrier.wait(timeout=60)
        return store.start(run, stale_after=HOUR)

    with ThreadPoolExecutor(len(asked)) as pool:
        answers = list(pool.map(start, asked))
    assert sum(new for _, new in answers) == 1
    assert len({run.run_id for run, _ in answers}) == 1
    winner = answers[0][0].run_id
    assert [run.run_id for run in store.list_recent(top=100)] == [winner]
    # The losers left nothing behind: their rows were removed once they saw the winner.
    assert [store.get(run.run_id) for run in asked if run.run_id != winner] == [None] * 7
    assert [r["runId"] for r in _rows(tables, table_name, RUNS_PARTITION)] == [winner, winner]  # index, pointer


def test_a_finished_run_makes_way_for_the_next(store):
    first = _started(store)
    store.mark_fanned_out(first.run_id)  # no customers: finished at once
    assert store.get(first.run_id).finished_at is not None
    second, new = store.start(_run(), stale_after=HOUR)
    assert new and second.run_id != first.run_id


def test_a_run_without_progress_for_stale_after_is_replaced(tables, table_name):
    now = datetime.now(UTC)
    store = TableRunStore(tables, table=table_name, clock=lambda: now)
    first = _started(store)
    store.enrol(first.run_id, ["a", "b"])
    progress = store.get(first.run_id).last_progress_at

    later = TableRunStore(tables, table=table_name, clock=lambda: progress + HOUR / 2)
    still, new = later.start(_run(), stale_after=HOUR)
    assert (still.run_id, new) == (first.run_id, False)

    stale = TableRunStore(tables, table=table_name, clock=lambda: progress + 2 * HOUR)
    replacement, new = stale.start(_run(), stale_after=HOUR)
    assert new and replacement.run_id != first.run_id
    # The stale run keeps its progress and can still record it; it is just no longer the running one.
    assert stale.complete(first.run_id, "a", Status.SUCCEEDED)
    assert stale.get(first.run_id).completed == 1
    assert [run.run_id for run in stale.list_recent(top=10)] == [replacement.run_id, first.run_id]


def test_start_refuses_what_is_no_run(store):
    with pytest.raises(ValueError):
        store.start(Run("!runs", Trigger.HTTP, datetime.now(UTC), None, 0, 0, dict(ZERO)), stale_after=HOUR)
    run = _started(store)
    store.mark_fanned_out(run.run_id)
    with pytest.raises(ValueError):
        store.start(run, stale_after=HOUR)  # its id is taken


# --- enrol and complete: exact counts --------------------------------------------------------------------------


def test_enrolling_twice_counts_each_customer_once(store):
    run = _started(store)
    store.enrol(run.run_id, ["a", "b", "c"])
    store.enrol(run.run_id, ["b", "c", "d", "d"])
    store.enrol(run.run_id, [])
    assert store.get(run.run_id).total == 4


def test_enrolling_more_than_one_transaction_and_concurrent_redeliveries_stay_exact(store):
    run = _started(store)
    page = [f"c{n:04d}" for n in range(250)]  # three transactions of at most 99 markers and a shard
    barrier = threading.Barrier(4)

    def deliver(_: int) -> None:
        barrier.wait(timeout=60)
        store.enrol(run.run_id, page)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(deliver, range(4)))
    got = store.get(run.run_id)
    assert (got.total, got.completed) == (250, 0)
    assert store.list_pending(run.run_id) == page
    assert store.list_pending(run.run_id, [page[97], page[98], page[99], "nobody"]) == page[97:100]  # two slices


def test_a_worker_completes_its_groups_with_the_slice_it_read_to_list_them(store, monkeypatch):
    run = _started(store)
    store.enrol(run.run_id, ["a", "b", "d", "e"])
    store.enrol(run.run_id, ["f", "g"])
    reads = []
    query = LeanTransactionClient.query_entities

    def counted(self, query_filter, **options):
        reads.append(options.get("parameters", {}).get("first", ""))
        return query(self, query_filter, **options)

    monkeypatch.setattr(LeanTransactionClient, "query_entities", counted)
    assert store.list_pending(run.run_id, ["a", "b", "c", "d"]) == ["a", "b", "d"]
    slice_reads = sum(first.startswith(SLICE_PREFIX) for first in reads)
    assert store.complete_many(run.run_id, {"a": Status.SUCCEEDED, "c": Status.FAILED}) == 1  # "c": never enrolled
    assert store.complete_many(run.run_id, {"b": Status.FAILED, "d": None}) == 2
    assert sum(first.startswith(SLICE_PREFIX) for first in reads) == slice_reads == 1  # read once, to list them
    assert store.complete_many(run.run_id, {"e": Status.SUCCEEDED, "f": Status.SUCCEEDED}) == 2  # "f": next slice
    assert sum(first.startswith(SLICE_PREFIX) for first in reads) == 2
    got = store.get(run.run_id)
    assert (got.total, got.completed) == (5, 4)


def test_customers_are_enrolled_in_id_order_and_one_before_the_last_enrolled_is_taken_as_enrolled(store):
    run = _started(store)
    assert store.enrol(run.run_id, ["b", "d"])
    assert store.enrol(run.run_id, ["a", "c", "e"])  # a fan-out sent again from the start, with two new customers
    assert store.list_pending(run.run_id) == ["b", "d", "e"]
    assert store.get(run.run_id).total == 3
    assert store.complete(run.run_id, "e", Status.SUCCEEDED) and not store.complete(run.run_id, "c", Status.SUCCEEDED)


def test_a_completion_is_recorded_once(store):
    run = _started(store)
    store.enrol(run.run_id, ["a", "b"])
    assert store.complete(run.run_id, "a", Status.FAILED)
    assert not store.complete(run.run_id, "a", Status.FAILED)
    assert not store.complete(run.run_id, "a", Status.SUCCEEDED)  # a late, different answer changes nothing
    assert not store.complete(run.run_id, "a", None)
    got = store.get(run.run_id)
    assert (got.total, got.completed, got.by_status) == (2, 1, {**ZERO, Status.FAILED: 1})


def test_a_customer_never_enrolled_is_not_recorded(store):
    run = _started(store)
    store.enrol(run.run_id, ["a"])
    assert not store.complete(run.run_id, "stranger", Status.SUCCEEDED)
    assert not store.complete(_run_id(), "a", Status.SUCCEEDED)  # no such run
    assert not store.complete("!runs", "a", Status.SUCCEEDED)
    assert not store.complete(run.run_id, "~count-00", Status.SUCCEEDED)
    got = store.get(run.run_id)
    assert (got.total, got.completed) == (1, 0)


def test_completing_a_group_records_those_pending_and_counts_them_in_one_change(store, tables, table_name):
    run = _started(store)
    store.enrol(run.run_id, ["a", "b", "c", "d", "e"])
    store.mark_fanned_out(run.run_id)
    assert store.complete(run.run_id, "b", Status.FAILED)  # recorded before: a redelivery repeats it
    outcomes = {"a": Status.SUCCEEDED, "b": Status.SUCCEEDED, "c": None, "d": Status.FAILED, "stranger": None}
    assert store.complete_many(run.run_id, outcomes) == 3
    assert store.complete_many(run.run_id, outcomes) == 0
    got = store.get(run.run_id)
    assert (got.total, got.completed) == (4, 3)
    assert got.by_status == {**ZERO, Status.SUCCEEDED: 1, Status.FAILED: 2}
    rows = _rows(tables, table_name, run.run_id)
    markers = {r["RowKey"]: r["outcome"] for r in rows if _is_marker(r["RowKey"])}
    assert markers == {"a": "succeeded", "b": "failed", "c": "gone", "d": "failed"}  # "e" is still pending
    assert [r["ids"] for r in rows if r["RowKey"].startswith(SLICE_PREFIX)] == ["a,b,c,d,e"]  # one slice row
    assert store.list_pending(run.run_id) == ["e"]
    assert store.complete_many(run.run_id, {"e": Status.SUCCEEDED}) == 1
    assert store.get(run.run_id).finished_at is not None
    with pytest.raises(ValueError):
        store.complete_many(run.run_id, {f"x{n}": Status.SUCCEEDED for n in range(MAX_BATCH + 1)})


def test_overlapping_groups_completed_at_once_count_each_customer_once(store):
    run = _started(store)
    customers = [f"cust-{n:03d}" for n in range(120)]
    store.enrol(run.run_id, customers)
    store.mark_fanned_out(run.run_id)
    # Groups of 10 from two deliveries of the same chunks, cut at different places, all at once.
    groups = [customers[i:i + 10] for i in range(0, 120, 10)] + [customers[i:i + 10] for i in range(5, 120, 10)]
    groups.append(customers[:5])
    barrier = threading.Barrier(len(groups))

    def deliver(group: list[str]) -> int:
        barrier.wait(timeout=60)
        return store.complete_many(run.run_id, {c: _status_of(customers.index(c)) for c in group})

    with ThreadPoolExecutor(len(groups)) as pool:
        recorded = list(pool.map(deliver, groups))
    assert sum(recorded) == 120
    got = store.get(run.run_id)
    expected = Counter(_status_of(n) for n in range(120))
    assert (got.total, got.completed) == (120, 120)
    assert got.by_status == {status: expected[status] for status in Status}


def test_a_customer_deleted_mid_run_leaves_the_total(store):
    run = _started(store)
    store.enrol(run.run_id, ["a", "b", "c"])
    store.mark_fanned_out(run.run_id)
    assert store.complete(run.run_id, "a", Status.SUCCEEDED)
    assert store.complete(run.run_id, "b", None)
    assert not store.complete(run.run_id, "b", None)
    got = store.get(run.run_id)
    assert (got.total, got.completed, got.finished_at) == (2, 1, None)
    assert store.complete(run.run_id, "c", None)
    got = store.get(run.run_id)
    assert (got.total, got.completed, got.by_status) == (1, 1, {**ZERO, Status.SUCCEEDED: 1})
    assert got.finished_at is not None


def test_many_workers_completing_one_run_keep_exact_counts(store, tables, table_name):
    run = _started(store)
    customers = [f"cust-{n:04d}" for n in range(240)]
    store.enrol(run.run_id, customers)
    store.mark_fanned_out(run.run_id)
    # Every customer is reported twice at about the same moment, as a redelivered message would be: threads t
    # and t + 8 go through the same customers in the same order.
    barrier = threading.Barrier(16)

    def worker(thread: int) -> tuple[list[bool], Run | None]:
        barrier.wait(timeout=60)
        mine = [(n, c) for n, c in enumerate(customers) if n % 8 == thread % 8]
        recorded = [store.complete(run.run_id, c, _status_of(n)) for n, c in mine]
        return recorded, store.finish(run.run_id)  # as each chunk's worker asks at its end

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(worker, range(16)))
    assert [ok for recorded, _ in answers for ok in recorded].count(True) == len(customers)
    finishers = [finished for _, finished in answers if finished is not None]
    assert len(finishers) == 1  # the run's summary is logged once
    assert finishers[0].finished_at is not None and finishers[0].completed == 240
    got = store.get(run.run_id)
    expected = Counter(_status_of(n) for n in range(len(customers)))
    assert (got.total, got.completed) == (240, 240)
    assert got.by_status == {status: expected[status] for status in Status}
    assert sum(got.by_status.values()) == got.total
    assert got.finished_at is not None
    markers = [r for r in _rows(tables, table_name, run.run_id) if _is_marker(r["RowKey"])]
    assert Counter(r["outcome"] for r in markers) == {s.value: n for s, n in expected.items()}


# --- finishing -------------------------------------------------------------------------------------------------


def test_a_run_finishes_once_fanned_out_and_all_completed(store):
    run = _started(store)
    store.enrol(run.run_id, ["a", "b"])
    assert store.complete(run.run_id, "a", Status.SUCCEEDED)
    assert store.complete(run.run_id, "b", Status.FAILED)
    assert store.finish(run.run_id) is None  # more may still be enrolled
    assert store.get(run.run_id).finished_at is None
    store.mark_fanned_out(run.run_id)
    done = store.get(run.run_id).finished_at
    assert done is not None  # reads say so before anyone asked to finish it
    finished = store.finish(run.run_id)
    assert finished is not None and finished.finished_at == done  # and the written moment is the same
    assert store.finish(run.run_id) is None  # only the one that marked it gets the run
    store.mark_fanned_out(run.run_id)  # redelivered
    store.enrol(run.run_id, ["late"])  # a redelivered fan-out after the last one enrols nobody
    assert store.get(run.run_id) == finished
    assert not store.complete(run.run_id, "late", Status.SUCCEEDED)


def _together(*calls) -> list:
    barrier = threading.Barrier(len(calls))

    def call(action):
        barrier.wait(timeout=60)
        return action()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call, action) for action in calls]]


def test_the_last_completion_racing_the_end_of_the_fan_out_still_finishes_the_run(store):
    def last(run_id: str) -> Run | None:
        store.complete(run_id, "b", Status.FAILED)
        return store.finish(run_id)  # as the chunk's worker does

    def end_of_fan_out(run_id: str) -> Run | None:
        store.mark_fanned_out(run_id)
        return store.finish(run_id)  # as the fan-out does

    for _ in range(10):  # each round a new run: the previous one finished
        run_id = _started(store).run_id
        store.enrol(run_id, ["a", "b"])
        store.complete(run_id, "a", Status.SUCCEEDED)
        finished = _together(lambda: last(run_id), lambda: end_of_fan_out(run_id))  # noqa: B023
        assert len([run for run in finished if run is not None]) == 1
        row = store._on_table(lambda table, run=run_id: table.get_entity(run, RUN_ROW))
        assert row.get("finishedAt") is not None  # written, not derived


def test_a_redelivered_enrolment_racing_the_end_of_the_fan_out_joins_wholly_or_not_at_all(store):
    page = [f"c{n:02d}" for n in range(50)]
    for _ in range(6):
        run_id = _started(store).run_id
        _together(lambda: store.enrol(run_id, page), lambda: store.mark_fanned_out(run_id))  # noqa: B023
        run = store.get(run_id)
        if run.total == 0:
            assert run.finished_at is not None  # fanned out first: nobody joined, nothing to wait for
        else:
            assert (run.total, run.finished_at) == (50, None)
            for customer in page:
                store.complete(run_id, customer, Status.SUCCEEDED)
            assert store.get(run_id).finished_at is not None


def test_a_run_of_no_customers_finishes_when_fanned_out(store):
    run = _started(store)
    assert store.get(run.run_id).finished_at is None
    assert store.finish(run.run_id) is None
    store.mark_fanned_out(run.run_id)
    got = store.get(run.run_id)
    assert (got.total, got.completed, got.by_status) == (0, 0, ZERO)
    assert got.finished_at is not None
    assert store.finish(run.run_id).finished_at == got.finished_at


def test_finish_of_an_unknown_run_is_none(store):
    assert store.finish(_run_id()) is None
    assert store.finish("!runs") is None


# --- reading ---------------------------------------------------------------------------------------------------


def test_recent_lists_runs_newest_first(store):
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    ids = []
    for hours in (0, 2, 1):  # started out of order: the start time, not the order of writes, sorts them
        run = _started(store, started_at=t0 + timedelta(hours=hours))
        store.mark_fanned_out(run.run_id)
        ids.append(run.run_id)
    assert [r.run_id for r in store.list_recent(top=10)] == [ids[1], ids[2], ids[0]]
    assert [r.run_id for r in store.list_recent(top=2)] == [ids[1], ids[2]]
    assert [r.started_at for r in store.list_recent(top=1)] == [t0 + timedelta(hours=2)]


def test_unknown_and_malformed_run_ids_read_as_none(store):
    _started(store)
    assert store.get(_run_id()) is None
    assert store.get("!runs") is None
    assert store.get("a/b") is None
    assert store.list_recent(top=5)[0].total == 0


def test_run_ids_are_letters_digits_and_hyphens():
    assert all(is_run_id(v) for v in (_run_id(), "20240501120000-0a1b2c3d", "A", "a-b-c", "x" * 64))
    assert not any(is_run_id(v) for v in ("", "!runs", "~current", "-x", "a/b", "a b", "a_b", "x" * 65, None))


def test_a_table_lost_by_storage_is_created_again(store, tables, table_name):
    _started(store)
    tables.delete_table(table_name)  # storage restarted empty, say
    assert store.list_recent(top=5) == []
    assert _started(store).total == 0


# --- storage unreachable ---------------------------------------------------------------------------------------


@pytest.fixture
def unreachable(unreachable_storage) -> TableRunStore:
    service = table_service_from_config(unreachable_storage, retry_total=0, connection_timeout=5)
    return TableRunStore(service, table="UnreachableRuns")


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.start(_run(), stale_after=HOUR),
        lambda s: s.enrol("20240501-120000-abc", ["a"]),
        lambda s: s.mark_fanned_out("20240501-120000-abc"),
        lambda s: s.complete("20240501-120000-abc", "a", Status.SUCCEEDED),
        lambda s: s.finish("20240501-120000-abc"),
        lambda s: s.get("20240501-120000-abc"),
        lambda s: s.list_recent(top=5),
    ],
)
def test_an_unreachable_endpoint_is_dependency_unavailable(unreachable, call):
    with pytest.raises(DependencyUnavailable) as err:
        call(unreachable)
    assert err.value.code == "storageUnavailable"


# --- pruning -------------------------------------------------------------------------------------------------


def _finished(store: TableRunStore, started_at: datetime, customers: list[str]) -> Run:
    run = _started(store, started_at=started_at)
    store.enrol(run.run_id, customers)
    store.mark_fanned_out(run.run_id)
    for start in range(0, len(customers), 25):  # chunk by chunk, as workers do
        store.complete_many(run.run_id, {c: _status_of(start + n) for n, c in enumerate(customers[start:start + 25])})
    store.finish(run.run_id)
    return store.get(run.run_id)


def _markers(tables: TableServiceClient, table: str, run_id: str) -> list[str]:
    """The rows a run keeps per customer: its slice rows and markers."""
    return [r["RowKey"] for r in _rows(tables, table, run_id)
            if r["RowKey"] != RUN_ROW and not r["RowKey"].startswith(COUNT_PREFIX)]


def _is_marker(row_key: str) -> bool:
    return row_key != RUN_ROW and not row_key.startswith((COUNT_PREFIX, SLICE_PREFIX))


def test_old_runs_lose_their_markers_once_and_keep_their_figures(store, tables, table_name):
    now = datetime.now(UTC)
    customers = [f"c{n:03d}" for n in range(130)]  # more than one transaction of deletes
    old = [_finished(store, now - timedelta(days=d), customers) for d in (9, 8)]
    recent = _finished(store, now - timedelta(days=1), customers[:3])
    assert [(r.total, r.completed) for r in old] == [(130, 130)] * 2 and all(r.finished_at for r in old)
    listed_before = store.list_recent(top=10)
    assert store.prune(started_before=now - timedelta(days=7)) == 2
    for run in old:
        assert _markers(tables, table_name, run.run_id) == []
        got = store.get(run.run_id)
        assert (got.total, got.completed, got.by_status, got.finished_at) == (
            run.total, run.completed, run.by_status, run.finished_at)
    assert _markers(tables, table_name, recent.run_id) == [SLICE_PREFIX + customers[2], *customers[:3]]
    assert [(r.run_id, r.total, r.by_status) for r in store.list_recent(top=10)] == [
        (r.run_id, r.total, r.by_status) for r in listed_before]
    assert store.prune(started_before=now - timedelta(days=7)) == 0  # each run is pruned once
    later = store.prune(started_before=now)  # a week later, the recent one's turn
    assert later == 1 and _markers(tables, table_name, recent.run_id) == []
    assert not store.complete(recent.run_id, "c000", Status.FAILED)  # a message that comes this late counts nothing


def test_a_backlog_is_pruned_oldest_first_a_bounded_number_at_a_time(store, tables, table_name, monkeypatch):
    monkeypatch.setattr("shared.adapters.table_runs.PRUNE_AT_MOST", 2)
    now = datetime.now(UTC)
    runs = [_finished(store, now - timedelta(days=d), ["a", "b"]) for d in (13, 12, 11, 10, 9)]
    assert store.prune(started_before=now) == 2
    assert [bool(_markers(tables, table_name, r.run_id)) for r in runs] == [False, False, True, True, True]
    assert store.prune(started_before=now) == 2 and store.prune(started_before=now) == 1
    assert all(_markers(tables, table_name, r.run_id) == [] for r in runs)
