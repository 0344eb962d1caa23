"""Runs over fakes: one at a time, fan-out in chunks, exact counts with redelivery and deleted customers."""
from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod, Customer, Status
from shared.domain.reasons import Reason
from shared.domain.runs import Trigger
from shared.domain.verification import TokenAnswer
from shared.domain.work import Chunk, FanOut, decode, encode
from shared.usecases.customers import put_customer
from shared.usecases.runs import CHUNK_SIZE, handle_work, start_run
from tests.support.devserver_process import eventually

GOOD, BAD = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def world(services):
    return new_world(services)


def new_world(services):
    """(services, verify context, run store, work queue), all in memory; GOOD verifies, BAD fails."""
    platform = services.verification.platform
    platform.script(GOOD, TokenAnswer(claims={"tid": GOOD, "roles": ["User.Read.All"]}))
    platform.script(BAD, TokenAnswer(error="invalid_client", error_codes=(7000222,), description="AADSTS7000222: x"))
    return services, services.verification, services.runs, services.work


def add(services, n, tenant_id=GOOD):
    put_customer(services.customers, services.secrets, f"c{n:03d}", CustomerInput(
        tenant_id=tenant_id, authentication_method=AuthMethod.APPLICATION, m365_email=None,
        application_id=APP, application_secret="s"))


def drain(ctx, runs, queue, *, twice=False):
    """Deliver every message, like the host's queue trigger (optionally each one twice)."""
    while queue.messages:
        message = encode(queue.messages.pop(0))
        handle_work(ctx, runs, queue, message)
        if twice:
            handle_work(ctx, runs, queue, message)


def test_a_run_verifies_every_customer_and_counts_exactly(world, caplog):
    services, ctx, runs, queue = world
    for n in range(60):
        add(services, n, GOOD if n % 3 else BAD)
    run, started = start_run(runs, queue, trigger=Trigger.HTTP)
    assert started and queue.messages == [FanOut(run.run_id)]
    with caplog.at_level(logging.INFO):
        drain(ctx, runs, queue)
    done = runs.get(run.run_id)
    assert (done.total, done.completed) == (60, 60) and done.finished_at is not None
    assert done.by_status == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 40, Status.FAILED: 20}
    assert services.customers.get("c000").last_verification_reason is Reason.CLIENT_SECRET_EXPIRED
    summaries = [r.message for r in caplog.records if "finished" in r.message]
    assert len(summaries) == 1 and "60 tenants" in summaries[0] and "failed 20" in summaries[0]


def test_chunks_are_small_and_fan_out_goes_page_by_page(world, monkeypatch):
    services, ctx, runs, queue = world
    monkeypatch.setattr("shared.usecases.runs.MAX_TOP", 40)
    monkeypatch.setattr("shared.usecases.runs.FAN_OUT_SECONDS", 0)  # one page per fan-out message
    for n in range(100):
        add(services, n)
    run, _ = start_run(runs, queue, trigger=Trigger.TIMER)
    handle_work(ctx, runs, queue, encode(queue.messages.pop(0)))
    chunks = [m for m in queue.messages if isinstance(m, Chunk)]
    assert [len(c.customer_ids) for c in chunks] == [CHUNK_SIZE, 40 - CHUNK_SIZE]
    assert isinstance(queue.messages[-1], FanOut) and queue.messages[-1].after is not None
    assert runs.get(run.run_id).total == 40 and run.run_id not in runs.fanned
    drain(ctx, runs, queue)
    assert runs.get(run.run_id).completed == 100


def test_one_fan_out_enrols_page_after_page_sending_each_slice_as_it_is_enrolled(world, monkeypatch):
    services, ctx, runs, queue = world
    monkeypatch.setattr("shared.usecases.runs.MAX_TOP", 5 * CHUNK_SIZE)
    for n in range(12 * CHUNK_SIZE):
        add(services, n)
    run, _ = start_run(runs, queue, trigger=Trigger.TIMER)
    enrolled_when_sent = []
    send = queue.send
    monkeypatch.setattr(queue, "send", lambda work: (enrolled_when_sent.append(
        (len(work), runs.get(run.run_id).total)), send(work)))
    handle_work(ctx, runs, queue, encode(queue.messages.pop(0)))
    assert all(isinstance(m, Chunk) for m in queue.messages) and len(queue.messages) == 12
    # Slices of ENROL_SLICE per page of 5 chunks: each slice's chunks go out right after it is enrolled.
    assert [n for n, _ in enrolled_when_sent] == [3, 2, 3, 2, 2]
    assert [total for _, total in enrolled_when_sent] == [75, 125, 200, 250, 300]
    assert run.run_id in runs.fanned
    drain(ctx, runs, queue)
    done = runs.get(run.run_id)
    assert (done.total, done.completed) == (12 * CHUNK_SIZE, 12 * CHUNK_SIZE) and done.finished_at is not None


def test_one_run_at_a_time_and_a_stale_run_no_longer_counts(world):
    _, _, runs, queue = world
    first, started = start_run(runs, queue, trigger=Trigger.HTTP)
    again, started_again = start_run(runs, queue, trigger=Trigger.TIMER)
    assert started and not started_again and again.run_id == first.run_id
    quiet_since = datetime.now(UTC) - timedelta(minutes=31)  # no progress for longer than STALE_AFTER
    runs.runs[first.run_id] = dataclasses.replace(runs.runs[first.run_id], started_at=quiet_since)
    runs.progress[first.run_id] = quiet_since
    fresh, started_fresh = start_run(runs, queue, trigger=Trigger.TIMER)
    assert started_fresh and fresh.run_id != first.run_id


def test_messages_delivered_twice_and_customers_deleted_mid_run_keep_the_counts_exact(world):
    services, ctx, runs, queue = world
    for n in range(30):
        add(services, n)
    run, _ = start_run(runs, queue, trigger=Trigger.HTTP)
    handle_work(ctx, runs, queue, encode(queue.messages.pop(0)))  # fan-out: 30 enrolled
    for n in range(5):  # deleted after enrolment, before their chunk
        customer: Customer = services.customers.get(f"c{n:03d}")
        services.customers.delete(customer)
    add(services, 99)  # added mid-run: not part of it
    drain(ctx, runs, queue, twice=True)
    done = runs.get(run.run_id)
    assert (done.total, done.completed) == (25, 25) and sum(done.by_status.values()) == 25
    assert done.finished_at is not None


def test_a_message_this_app_did_not_send_is_dropped(world, caplog):
    _, ctx, runs, queue = world
    for text in ("not json", "[]", '{"run": "r", "customers": ["../x"]}', '{"fanOut": 1, "after": null}'):
        handle_work(ctx, runs, queue, text)
    assert queue.messages == [] and "dropped" in caplog.text


def test_work_messages_round_trip():
    for work in (FanOut("r1"), FanOut("r1", '["tenant","c9"]'), Chunk("r1", ("a", "b.c"))):
        assert decode(encode(work)) == work


def test_a_slow_customer_holds_up_only_itself_the_others_are_recorded_meanwhile(world):
    services, ctx, runs, queue = world
    slow = "5a0e3c1d-7b2f-4e6a-8c9d-0f1e2d3c4b5a"
    released = threading.Event()
    platform = ctx.platform
    platform.script(slow, lambda: released.wait(30) and TokenAnswer(claims={"tid": slow, "roles": ["User.Read.All"]}))
    for n in range(10):
        add(services, n, slow if n == 4 else GOOD)
    run, _ = start_run(runs, queue, trigger=Trigger.HTTP)
    handle_work(ctx, runs, queue, encode(queue.messages.pop(0)))  # fan-out: one chunk of 10
    chunk = encode(queue.messages.pop(0))
    worker = threading.Thread(target=handle_work, args=(ctx, runs, queue, chunk))
    worker.start()
    try:
        recorded = eventually(lambda: runs.get(run.run_id).completed == 9 or None, timeout=10,
                              what="the nine fast customers recorded while the slow one still waits")
        assert recorded and services.customers.get("c004").last_verification_status is Status.NOT_VERIFIED
        assert runs.get(run.run_id).finished_at is None
    finally:
        released.set()
        worker.join(timeout=30)
    done = runs.get(run.run_id)
    assert (done.total, done.completed, done.by_status[Status.SUCCEEDED]) == (10, 10, 10)
    assert done.finished_at is not None


def test_a_run_shows_progress_against_the_customers_there_were_when_it_started(world):
    from shared.views import run_view

    services, ctx, runs, queue = world
    for n in range(60):
        add(services, n)
    run, _ = start_run(runs, queue, trigger=Trigger.HTTP, customers=services.customers)
    shown = run_view(runs.get(run.run_id))
    assert (shown["total"], shown["completed"]) == (60, 0)  # "0 of 60" before a single customer is enrolled
    for n in range(10):  # deleted before the fan-out reached them: the total becomes exact once it has
        services.customers.delete(services.customers.get(f"c{n:03d}"))
    drain(ctx, runs, queue)
    shown = run_view(runs.get(run.run_id))
    assert (shown["total"], shown["completed"]) == (50, 50) and shown["finishedAt"] is not None


def test_without_the_customers_a_run_shows_what_it_has_enrolled(world):
    from shared.views import run_view

    services, ctx, runs, queue = world
    add(services, 1)
    run, _ = start_run(runs, queue, trigger=Trigger.HTTP)
    assert run_view(runs.get(run.run_id))["total"] == 0
