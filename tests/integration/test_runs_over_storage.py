"""The runs use case over the real adapters in Azurite: tenants, history, runs and the verify-requests queue,
each message read back as the Functions host reads it (base64) and delivered twice."""
from __future__ import annotations

import logging
import uuid

import pytest
from azure.storage.queue import QueueClient

from shared.adapters.queue_work import StorageWorkQueue
from shared.adapters.storage_clients import queue_service_from_config, table_service_from_config
from shared.adapters.table_customers import TableCustomerStore
from shared.adapters.table_runs import TableRunStore
from shared.config import StorageConfig
from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod, Status
from shared.domain.runs import Trigger
from shared.domain.verification import TokenAnswer
from shared.domain.work import FanOut, decode
from shared.usecases.customers import put_customer
from shared.usecases.runs import handle_work, start_run
from tests.support.fakes import fake_services
from tools.queues import decode_body

pytestmark = pytest.mark.integration

GOOD, BAD = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def test_a_run_over_real_storage_counts_every_customer_once(azurite, caplog):
    storage = StorageConfig(connection_string=azurite.connection_string)
    tables = table_service_from_config(storage, retry_total=0)
    suffix = uuid.uuid4().hex[:12]
    customers = TableCustomerStore(tables, table=f"Tenants{suffix}")
    runs = TableRunStore(tables, table=f"Runs{suffix}")
    queue_name = f"verify-{suffix}"
    queue = StorageWorkQueue(queue_service_from_config(storage, retry_total=0), queue=queue_name)
    with fake_services(customers=customers, runs=runs,
                       work=queue) as fakes:  # secrets and provider settings stay in memory
        ctx = fakes.verification
        ctx.platform.script(GOOD, TokenAnswer(claims={"tid": GOOD, "roles": ["User.Read.All"]}))
        ctx.platform.script(BAD, TokenAnswer(error="invalid_client", error_codes=(7000222,),
                                             description="AADSTS7000222: x"))
        raw = QueueClient.from_connection_string(azurite.connection_string, queue_name)
        for n in range(60):
            put_customer(customers, fakes.secrets, f"c{n:03d}", CustomerInput(
                tenant_id=GOOD if n % 3 else BAD, authentication_method=AuthMethod.APPLICATION, m365_email=None,
                application_id=APP, application_secret="s"))

        run, started = start_run(runs, queue, trigger=Trigger.HTTP)
        assert started
        again, started_again = start_run(runs, queue, trigger=Trigger.TIMER)
        assert (again.run_id, started_again) == (run.run_id, False)
        delivered = 0
        with caplog.at_level(logging.INFO, logger="shared.usecases.runs"):
            for _ in range(50):  # bounded: the fan-out and three chunks take a handful of receives
                batch = list(raw.receive_messages(max_messages=32, visibility_timeout=60))
                if not batch:
                    break
                for message in batch:
                    text = decode_body(message.content, "base64").decode("utf-8")  # what the host hands the worker
                    handle_work(ctx, runs, queue, text)
                    handle_work(ctx, runs, queue, text)  # delivered twice
                    raw.delete_message(message)
                    delivered += 1
        # The fan-out, and its 3 chunks of 25 (its second delivery found the run fanned out and sent nothing more);
        # each chunk delivered twice counts each customer once. The run's watch is hidden for WATCH_EVERY.
        assert delivered == 1 + 3

        done = runs.get(run.run_id)
        assert (done.total, done.completed) == (60, 60) and done.finished_at is not None
        assert done.by_status == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 40, Status.FAILED: 20}
        assert runs.list_recent(top=5) == [done]
        summaries = [r.getMessage() for r in caplog.records if "finished" in r.getMessage()]
        assert len(summaries) == 1 and "60 tenants" in summaries[0]
        following, started = start_run(runs, queue, trigger=Trigger.TIMER)  # finished: the next run may start
        assert started and following.run_id != run.run_id
        (message,) = raw.peek_messages(max_messages=32)
        assert decode(decode_body(message.content, "base64").decode("utf-8")) == FanOut(following.run_id)
