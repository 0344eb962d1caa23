"""StorageWorkQueue against a real Azurite: messages as the Functions host (and the local host) read them."""
from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueServiceClient

from shared.adapters.queue_work import MAX_MESSAGE_BYTES, StorageWorkQueue
from shared.adapters.storage_clients import queue_service_from_config
from shared.config import StorageConfig
from shared.domain.errors import DependencyUnavailable
from shared.domain.work import Chunk, FanOut, Watch, decode, encode
from tests.support.devserver_process import eventually
from tools.queues import decode_body

pytestmark = pytest.mark.integration

RUN = "20240501-120000-abcdefghijkl"


@pytest.fixture
def service(azurite) -> QueueServiceClient:
    return queue_service_from_config(StorageConfig(connection_string=azurite.connection_string), retry_total=0)


@pytest.fixture
def queue_name() -> str:
    return f"verify-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def raw(azurite, queue_name) -> QueueClient:
    """A plain client, with no decoding policy: it sees the stored text as the host receives it."""
    return QueueClient.from_connection_string(azurite.connection_string, queue_name)


def _stored(raw: QueueClient) -> list[str]:
    texts = []
    for _ in range(10):  # bounded: at most 32 messages per receive
        batch = list(raw.receive_messages(max_messages=32, visibility_timeout=60))
        if not batch:
            return texts
        for message in batch:
            texts.append(message.content)
            raw.delete_message(message)
    return texts


def test_sent_work_reads_back_as_the_host_decodes_it(service, queue_name, raw):
    work = [
        FanOut(RUN),
        FanOut(RUN, '["tenant","contoso-02"]'),
        Chunk(RUN, ("contoso-01", "fabrikam.eu", "a_b-c")),
    ]
    StorageWorkQueue(service, queue=queue_name).send(work)  # the queue did not exist: created on first use
    stored = _stored(raw)
    assert len(stored) == 3
    # Stored as base64 (the host's default messageEncoding), never as the bare JSON.
    assert all(base64.b64decode(text, validate=True) for text in stored)
    assert not any(text.startswith("{") for text in stored)
    # The local host's decoding (tools/queues.py), then the worker's: the same work, in the same order.
    assert [decode(decode_body(text, "base64").decode("utf-8")) for text in stored] == work


def test_sending_nothing_makes_no_call(service, queue_name, raw):
    StorageWorkQueue(service, queue=queue_name).send([])
    with pytest.raises(ResourceNotFoundError):
        raw.get_queue_properties()  # not even created


def test_work_too_large_for_one_message_sends_none_of_it(service, queue_name, raw):
    customers = tuple(f"{n:060d}" for n in range(800))  # ~50 KiB of JSON, ~67 KiB as base64
    too_large = Chunk(RUN, customers)
    assert len(base64.b64encode(encode(too_large).encode())) > MAX_MESSAGE_BYTES
    queue = StorageWorkQueue(service, queue=queue_name)
    with pytest.raises(ValueError):
        queue.send([FanOut(RUN), too_large])
    queue.send([Chunk(RUN, customers[:600])])  # under the limit: one message
    assert [decode(base64.b64decode(t).decode()) for t in _stored(raw)] == [Chunk(RUN, customers[:600])]


def test_a_queue_deleted_after_first_use_is_created_again(service, queue_name, raw):
    queue = StorageWorkQueue(service, queue=queue_name)
    queue.send([FanOut(RUN)])
    raw.delete_queue()  # storage restarted empty, say
    queue.send([FanOut(RUN, '["tenant","b"]')])
    assert [decode(base64.b64decode(t).decode()) for t in _stored(raw)] == [
        FanOut(RUN, '["tenant","b"]')
    ]


def test_an_unreachable_endpoint_is_dependency_unavailable(unreachable_storage):
    service = queue_service_from_config(unreachable_storage, retry_total=0, connection_timeout=5)
    with pytest.raises(DependencyUnavailable) as err:
        StorageWorkQueue(service, queue="unreachable").send([FanOut(RUN)])
    assert err.value.code == "storageUnavailable"


def test_work_sent_with_a_delay_stays_hidden_until_then(service, queue_name, raw):
    """A run's watch is sent for later: the host does not see it until the delay has passed."""
    StorageWorkQueue(service, queue=queue_name).send([Watch(RUN)], delay=timedelta(seconds=2))
    assert list(raw.peek_messages(max_messages=32)) == []
    (message,) = eventually(lambda: list(raw.peek_messages(max_messages=32)), timeout=30, what="the watch")
    assert decode(decode_body(message.content, "base64").decode("utf-8")) == Watch(RUN)
