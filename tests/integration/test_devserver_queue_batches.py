"""How the local host fetches and runs queue messages, against a real Azurite: batchSize at a time, the next batch
once the messages in flight drop to newBatchThreshold, on a bounded pool of invocation threads; the hold on a message
renewed while its function runs; the retry delay after a failure; and what a stop does to messages fetched but not
started.

The function under test blocks on a per-message gate that the test opens, so nothing depends on how long
anything takes; every wait has a deadline.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.storage.queue import QueueClient

from tests.support.devserver_process import eventually
from tools.hostconfig import HostConfigError, QueueOptions, load_host_config
from tools.invocation import QUEUE_TRIGGER, FunctionSpec
from tools.queues import QueuePoller, invocation_threads

pytestmark = pytest.mark.integration

QUIET = 0.5  # how long "nothing more happens" is watched for


class Gated:
    """A queue function that records each message as it starts and returns once the test opens its gate."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.started: list[str] = []
        self.dequeue_counts: list[int] = []
        self.times: list[float] = []  # time.monotonic() of each start
        self.finished: list[str] = []
        self._gates: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def gate(self, body: str) -> threading.Event:
        with self._lock:
            return self._gates.setdefault(body, threading.Event())

    def __call__(self, msg) -> None:
        body = msg.get_body().decode("utf-8")
        with self._lock:
            self.started.append(body)
            self.dequeue_counts.append(msg.dequeue_count)
            self.times.append(time.monotonic())
        if not self.gate(body).wait(60):
            raise RuntimeError(f"gate {body} never opened")
        with self._lock:
            self.finished.append(body)
        if self.fail:
            raise RuntimeError(f"{body} failed, as told")

    def running(self) -> list[str]:
        with self._lock:
            return [body for body in self.started if body not in self.finished]

    def open(self, *bodies: str) -> None:
        for body in bodies:
            self.gate(body).set()


@pytest.fixture
def queues(azurite) -> Iterator[tuple[QueueClient, QueueClient]]:
    name = f"batches-{uuid.uuid4().hex[:10]}"
    inbox = QueueClient.from_connection_string(azurite.connection_string, name)
    poison = QueueClient.from_connection_string(azurite.connection_string, f"{name}-poison")
    inbox.create_queue()
    yield inbox, poison
    inbox.delete_queue()


def start_poller(inbox: QueueClient, poison: QueueClient, function: Gated, *, batch: int = 4, threshold: int = 0,
                 threads: int = 4, hold_seconds: int = 600, retry_seconds: float = 0.0,
                 ) -> tuple[QueuePoller, threading.Thread, threading.Event]:
    spec = FunctionSpec("gated", function, {"type": QUEUE_TRIGGER, "name": "msg", "queueName": inbox.queue_name})
    stop = threading.Event()
    options = QueueOptions(batch_size=batch, new_batch_threshold=threshold, max_polling_interval=0.5,
                           visibility_timeout=retry_seconds)
    poller = QueuePoller(spec, inbox, poison, options=options, stop=stop, pool=ThreadPoolExecutor(threads),
                         hold_seconds=hold_seconds)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    return poller, thread, stop


def send(inbox: QueueClient, count: int) -> list[str]:
    bodies = [f"m{index:02d}" for index in range(count)]
    for body in bodies:
        inbox.send_message(base64.b64encode(body.encode()).decode())  # the host's default encoding
    return bodies


def stays(probe, value, seconds: float = QUIET) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe() != value:
            return False
        time.sleep(0.02)
    return True


def test_the_next_batch_comes_once_the_messages_in_flight_drop_to_new_batch_threshold(queues):
    inbox, poison = queues
    function = Gated()
    send(inbox, 12)
    _, thread, stop = start_poller(inbox, poison, function, batch=4, threshold=2, threads=12)
    try:
        first = eventually(lambda: function.running() if len(function.running()) == 4 else None, timeout=30,
                           what="a first batch of 4")
        assert stays(lambda: len(function.started), 4)  # 4 in flight > threshold 2: no second batch yet
        function.open(first[0])
        assert stays(lambda: len(function.started), 4)  # 3 in flight: still above the threshold
        function.open(first[1])
        # 2 in flight: the next batch of 4 is fetched while the first batch's last two still run.
        eventually(lambda: len(function.started) == 8, timeout=30, what="a second batch")
        assert len(function.running()) == 6 and set(first[2:]) <= set(function.running())
        assert stays(lambda: len(function.started), 8)  # 6 in flight: above the threshold again
        function.open(*[f"m{index:02d}" for index in range(12)])
        eventually(lambda: len(function.finished) == 12, timeout=30, what="every message to run")
        eventually(lambda: inbox.get_queue_properties().approximate_message_count == 0, timeout=30,
                   what="every message to be deleted")
        assert sorted(function.started) == [f"m{index:02d}" for index in range(12)]  # each once
    finally:
        function.open(*[f"m{index:02d}" for index in range(12)])
        stop.set()
        thread.join(30)


def test_fetched_messages_wait_for_a_free_invocation_thread(queues):
    inbox, poison = queues
    function = Gated()
    bodies = send(inbox, 4)
    _, thread, stop = start_poller(inbox, poison, function, batch=4, threshold=0, threads=2)
    try:
        eventually(lambda: len(function.running()) == 2, timeout=30, what="two invocations")
        assert stays(lambda: len(function.started), 2)  # four fetched, two threads
        function.open(function.running()[0])
        eventually(lambda: len(function.started) == 3, timeout=30, what="a waiting message to start")
        assert len(function.running()) == 2
        function.open(*bodies)
        eventually(lambda: len(function.finished) == 4, timeout=30, what="every message to run")
    finally:
        function.open(*bodies)
        stop.set()
        thread.join(30)


def test_a_stop_lets_running_invocations_finish_and_releases_the_messages_not_started(queues):
    inbox, poison = queues
    function = Gated()
    bodies = send(inbox, 3)
    _, thread, stop = start_poller(inbox, poison, function, batch=3, threshold=0, threads=1)
    try:
        running = eventually(lambda: function.running(), timeout=30, what="the first invocation")
        stop.set()
        assert stays(thread.is_alive, True)  # it waits for the invocation in flight
        function.open(running[0])
        thread.join(30)
        assert not thread.is_alive()
        assert function.finished == running  # the two waiting were not run ...
        # ... and are visible again at once, not after their lease, for the next host to take.
        visible = eventually(lambda: [m for m in inbox.peek_messages(max_messages=32)] or None, timeout=10,
                             what="the released messages")
        assert sorted(base64.b64decode(m.content).decode() for m in visible) == sorted(set(bodies) - set(running))
    finally:
        function.open(*bodies)
        stop.set()
        thread.join(30)


def renewals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tools.queues" and r.getMessage().startswith("Renewed the hold")]


def test_the_hold_on_a_message_is_renewed_while_its_function_runs(queues, caplog):
    inbox, poison = queues
    caplog.set_level(logging.DEBUG, logger="tools.queues")
    function = Gated()
    send(inbox, 1)
    # A 2 s hold, renewed every second (the host's: 10 minutes, renewed every 5).
    _, thread, stop = start_poller(inbox, poison, function, hold_seconds=2)
    try:
        eventually(lambda: function.running(), timeout=30, what="the invocation")
        eventually(lambda: len(renewals(caplog)) >= 2, timeout=30, what="two renewals")
        assert inbox.peek_messages() == []  # the first hold has run out, yet the message is still hidden
        function.open("m00")
        # Deleted with the receipt of the last renewal (the first one no longer holds it).
        eventually(lambda: inbox.get_queue_properties().approximate_message_count == 0, timeout=30,
                   what="the message to be deleted")
        assert function.started == ["m00"] and function.dequeue_counts == [1]
    finally:
        function.open("m00")
        stop.set()
        thread.join(30)


def test_a_failed_message_comes_back_after_the_visibility_timeout(queues):
    inbox, poison = queues
    function = Gated(fail=True)
    function.open("m00")
    send(inbox, 1)
    _, thread, stop = start_poller(inbox, poison, function, retry_seconds=3)
    try:
        eventually(lambda: len(function.started) >= 2, timeout=30, what="a second try")
        assert function.dequeue_counts[:2] == [1, 2]
        # Hidden for host.json's visibilityTimeout (3 s; the storage service counts whole seconds) between tries.
        assert function.times[1] - function.times[0] >= 2
    finally:
        stop.set()
        thread.join(30)


# --- the settings behind it ----------------------------------------------------------------------------

def test_host_json_sets_batch_size_and_new_batch_threshold_whose_default_is_half_a_batch_per_processor(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"version": "2.0", "extensions": {"queues": {"batchSize": 8}}}))
    assert load_host_config(path).queues.new_batch_threshold == 4 * (os.cpu_count() or 1)
    path.write_text(json.dumps({"version": "2.0", "extensions": {"queues": {"batchSize": 8, "newBatchThreshold": 0}}}))
    assert (load_host_config(path).queues.batch_size, load_host_config(path).queues.new_batch_threshold) == (8, 0)
    path.write_text(json.dumps({"version": "2.0", "extensions": {"queues": {"newBatchThreshold": -1}}}))
    with pytest.raises(HostConfigError, match="newBatchThreshold"):
        load_host_config(path)


def test_the_retry_delay_is_host_json_visibility_timeout_whose_default_is_zero(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"version": "2.0", "extensions": {"queues": {"maxDequeueCount": 5}}}))
    assert load_host_config(path).queues.visibility_timeout == 0
    path.write_text(json.dumps({"version": "2.0", "extensions": {"queues": {"visibilityTimeout": "00:01:30"}}}))
    assert load_host_config(path).queues.visibility_timeout == 90


@pytest.mark.parametrize(("setting", "threads"), [
    (None, min(32, (os.cpu_count() or 1) + 4)),  # the Python worker's ThreadPoolExecutor default
    ("3", 3), ("32", 32),
    ("0", min(32, (os.cpu_count() or 1) + 4)), ("33", min(32, (os.cpu_count() or 1) + 4)),
    ("many", min(32, (os.cpu_count() or 1) + 4)),
])
def test_invocation_threads_follow_python_threadpool_thread_count(setting, threads):
    environ = {} if setting is None else {"PYTHON_THREADPOOL_THREAD_COUNT": setting}
    assert invocation_threads(environ) == threads
