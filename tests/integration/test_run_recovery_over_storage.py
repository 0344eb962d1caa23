"""Lost work over real Azurite: TableRunStore's outstanding customers, give-ups, recoveries and a worker's
"alive"; then a worker that takes a chunk from the real queue and dies, recovered by the run's watch."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from azure.storage.queue import QueueClient

from shared.adapters.queue_work import StorageWorkQueue
from shared.adapters.storage_clients import queue_service_from_config
from shared.adapters.table_customers import TableCustomerStore
from shared.adapters.table_runs import TableRunStore
from shared.config import StorageConfig
from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod, Status
from shared.domain.runs import RecoveryCause, Trigger
from shared.domain.verification import TokenAnswer
from shared.domain.work import Chunk, Watch, decode, encode
from shared.usecases import runs as runs_module
from shared.usecases.customers import put_customer
from shared.usecases.runs import handle_poisoned, handle_work, start_run
from tests.integration.test_table_runs import _started
from tests.support.devserver_process import eventually
from tests.support.fakes import fake_services
from tools.queues import decode_body

pytestmark = pytest.mark.integration

GOOD = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def store(tables) -> TableRunStore:
    return TableRunStore(tables, table=f"Runs{uuid.uuid4().hex[:16]}")


def test_pending_lists_the_outstanding_customers_of_a_chunk_or_of_the_whole_run(store):
    run = _started(store)
    store.enrol(run.run_id, ["a", "b", "c", "d"])
    store.complete_many(run.run_id, {"b": Status.SUCCEEDED, "c": None})
    assert store.list_pending(run.run_id) == ["a", "d"]
    assert store.list_pending(run.run_id, ("d", "c", "b", "x")) == ["d"]
    assert store.list_pending(run.run_id, []) == [] and store.list_pending("no-such-run") == []


def test_given_up_customers_count_once_and_finish_the_run_with_their_cause(store):
    run = _started(store)
    store.enrol(run.run_id, ["a", "b", "c"])
    store.mark_fanned_out(run.run_id)
    store.complete(run.run_id, "a", Status.FAILED)
    assert store.give_up(run.run_id, ["b", "a"], cause=RecoveryCause.WORK_FAILED) == 1
    assert store.give_up(run.run_id, ["b"], cause=RecoveryCause.WORK_FAILED) == 0  # a redelivery: counted once
    assert store.get(run.run_id).finished_at is None
    assert store.give_up(run.run_id, None, cause=RecoveryCause.WORKER_STALLED) == 1  # every pending one: c
    assert not store.complete(run.run_id, "c", Status.SUCCEEDED)  # its old work comes back: not counted
    done = store.finish(run.run_id)
    assert done is not None and done.finished_at is not None
    assert (done.total, done.completed, done.given_up) == (3, 1, 2)
    assert done.causes == {RecoveryCause.WORK_FAILED, RecoveryCause.WORKER_STALLED}
    assert store.get(run.run_id) == done


def test_a_stall_is_counted_once_however_many_watchers_saw_it(store):
    run = _started(store)
    store.enrol(run.run_id, ["a"])
    assert store.note_recovery(run.run_id, cause=RecoveryCause.WORKER_STALLED, resent=1, stall=0)
    assert not store.note_recovery(run.run_id, cause=RecoveryCause.WORKER_STALLED, resent=1, stall=0)
    assert store.note_recovery(run.run_id, cause=RecoveryCause.WORK_FAILED, resent=1)  # not a stall: always noted
    seen = store.get(run.run_id)
    assert (seen.stalls, seen.resent, seen.causes) == (1, 2, {RecoveryCause.WORKER_STALLED,
                                                               RecoveryCause.WORK_FAILED})
    assert not store.note_recovery("no-such-run", cause=RecoveryCause.WORK_FAILED)


def test_a_worker_saying_it_is_alive_is_progress(store, tables):
    run = _started(store)
    store.enrol(run.run_id, ["a"])
    before = store.get(run.run_id).last_progress_at
    eventually(lambda: (store.mark_alive(run.run_id), store.get(run.run_id).last_progress_at > before)[1],
               timeout=30, what="a later progress time once the worker said it is alive")
    assert store.get(run.run_id).completed == 0


def test_a_worker_that_dies_holding_a_chunk_of_the_real_queue_is_recovered_by_the_watch(azurite, tables,
                                                                                          monkeypatch):
    """The host hides a message its worker holds for 10 minutes: the run must not wait for that. Here the stall
    threshold and the watch interval are shortened, so the test waits seconds, not a minute."""
    monkeypatch.setattr(runs_module, "STALL_AFTER", timedelta(seconds=2))
    monkeypatch.setattr(runs_module, "WATCH_EVERY", timedelta(seconds=1))
    storage = StorageConfig(connection_string=azurite.connection_string)
    suffix = uuid.uuid4().hex[:12]
    customers = TableCustomerStore(tables, table=f"Tenants{suffix}")
    runs = TableRunStore(tables, table=f"Runs{suffix}")
    queue = StorageWorkQueue(queue_service_from_config(storage, retry_total=0), queue=f"verify-{suffix}")
    with fake_services(customers=customers, runs=runs,
                       work=queue) as fakes:
        ctx, platform = fakes.verification, fakes.verification.platform
        platform.script(GOOD, TokenAnswer(claims={"tid": GOOD, "roles": ["User.Read.All"]}))
        raw = QueueClient.from_connection_string(azurite.connection_string, f"verify-{suffix}")
        for n in range(75):
            put_customer(customers, fakes.secrets, f"c{n:03d}", CustomerInput(
                tenant_id=GOOD, authentication_method=AuthMethod.APPLICATION, m365_email=None,
                application_id=APP, application_secret="s"))
        run, _ = start_run(runs, queue, trigger=Trigger.HTTP)

        held = None
        kinds = []

        def host_polls_once() -> bool:
            """Handle what is visible, as the host would; the first chunk is taken by a worker that dies."""
            nonlocal held
            for message in raw.receive_messages(max_messages=32, visibility_timeout=600):  # the host's hold
                work = decode(decode_body(message.content, "base64").decode("utf-8"))
                kinds.append(type(work))
                if isinstance(work, Chunk) and held is None:
                    held = work  # never finished, never deleted: hidden for the hold
                    continue
                handle_work(ctx, runs, queue, decode_body(message.content, "base64").decode("utf-8"))
                raw.delete_message(message)
            return runs.get(run.run_id).finished_at is not None

        eventually(host_polls_once, timeout=120, what="the run to finish without the held chunk")
        assert held is not None and kinds.count(Watch) >= 2  # the watch looked more than once: it saw the stall
        done = runs.get(run.run_id)
        assert (done.total, done.completed, done.given_up) == (75, 75, 0)
        assert (done.stalls, done.resent, done.causes) == (1, 25, {RecoveryCause.WORKER_STALLED})
        calls = len(platform.calls)
        handle_work(ctx, runs, queue, encode(held))  # the held chunk comes back after the hold
        assert len(platform.calls) == calls and runs.get(run.run_id) == done


def test_a_chunk_that_keeps_failing_ends_given_up_through_the_poison_queue(azurite, tables):
    """What the host does with a message that fails 5 times, and what the app does with it then."""
    storage = StorageConfig(connection_string=azurite.connection_string)
    suffix = uuid.uuid4().hex[:12]
    customers = TableCustomerStore(tables, table=f"Tenants{suffix}")
    runs = TableRunStore(tables, table=f"Runs{suffix}")
    queue = StorageWorkQueue(queue_service_from_config(storage, retry_total=0), queue=f"verify-{suffix}")
    with fake_services(customers=customers, runs=runs,
                       work=queue) as fakes:
        ctx = fakes.verification
        for n in range(3):
            put_customer(customers, fakes.secrets, f"c{n:03d}", CustomerInput(
                tenant_id=GOOD, authentication_method=AuthMethod.APPLICATION, m365_email=None,
                application_id=APP, application_secret="s"))
        run, _ = start_run(runs, queue, trigger=Trigger.TIMER)
        raw = QueueClient.from_connection_string(azurite.connection_string, f"verify-{suffix}")
        (fan_out,) = raw.receive_messages(max_messages=32)
        handle_work(ctx, runs, queue, decode_body(fan_out.content, "base64").decode("utf-8"))
        raw.delete_message(fan_out)

        def broken(customer_ids):
            raise OSError("the tenants cannot be read")

        customers.get_many = broken
        for _attempt in range(2):  # the chunk, then its copy sent once more: each fails on every delivery
            (message,) = raw.receive_messages(max_messages=32)
            text = decode_body(message.content, "base64").decode("utf-8")
            for _delivery in range(5):
                with pytest.raises(OSError):
                    handle_work(ctx, runs, queue, text)
            raw.delete_message(message)  # moved to verify-requests-poison by the host
            handle_poisoned(runs, queue, text)
        assert list(raw.peek_messages(max_messages=32)) == []  # nothing more is sent
        done = runs.get(run.run_id)
        assert (done.total, done.completed, done.given_up, done.resent) == (3, 0, 3, 3) and done.finished_at
        assert done.causes == {RecoveryCause.WORK_FAILED}
