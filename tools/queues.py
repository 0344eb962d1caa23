"""Queue triggers and queue output bindings, the way the Functions host runs them, over azure-storage-queue.

Message encoding follows host.json `extensions.queues.messageEncoding`, whose default is base64: the
host decodes a message's text from base64 before the function sees it, and base64-encodes what an
output binding sends. So whatever puts messages for a queue trigger must base64-encode them (with
azure-storage-queue: `message_encode_policy=TextBase64EncodePolicy()` or `BinaryBase64EncodePolicy()`).
A message that is not valid base64 goes straight to `<queue>-poison`, as the host's decoding-failure
handler does. Clients here use no SDK encoding policy, so this module sees and copies raw text.

A failed invocation leaves the message to reappear after a short retry delay; once it has been
dequeued `maxDequeueCount` times (default 5) its raw text is copied to `<queue>-poison` and deleted.

Fetching follows host.json `extensions.queues`: `batchSize` messages at a time (default 16), the next batch
as soon as the messages in flight drop to `newBatchThreshold` (default batchSize / 2 per processor), at once
while messages keep coming and backing off to `maxPollingInterval` while the queue is empty. As in the Python
worker, the functions run on one pool of PYTHON_THREADPOOL_THREAD_COUNT threads (default min(32, CPUs + 4)):
fetched messages wait there for a free thread, so a busy host does not run dozens of invocations at once.
"""
from __future__ import annotations

import base64
import binascii
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionQueueMessage  # carries dequeue_count and times
from azure.storage.queue import LinearRetry, QueueClient
from azure.storage.queue import QueueMessage as StorageMessage

from tools.hostconfig import HostConfigError, QueueOptions, resolve_settings
from tools.invocation import QUEUE_OUT, FunctionSpec, Outcome, invoke

logger = logging.getLogger(__name__)

DEFAULT_CONNECTION = "AzureWebJobsStorage"
LEASE_SECONDS = 300  # how long a received message stays hidden while its function runs
MIN_POLL_SECONDS = 0.1

ClientFactory = Callable[[str, str], QueueClient]
THREADPOOL_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
MAX_INVOCATION_THREADS = 32  # the Python worker's upper bound for the setting


def invocation_threads(environ: Mapping[str, str] | None = None) -> int:
    """Threads of the Python worker's pool for sync functions: the setting when valid, else what the
    worker's ThreadPoolExecutor(max_workers=None) gets, min(32, CPUs + 4)."""
    environ = os.environ if environ is None else environ
    raw = (environ.get(THREADPOOL_SETTING) or "").strip()
    if raw:
        if raw.isdigit() and 1 <= int(raw) <= MAX_INVOCATION_THREADS:
            return int(raw)
        logger.warning("%s=%r is not a whole number from 1 to %d; using the default.",
                       THREADPOOL_SETTING, raw, MAX_INVOCATION_THREADS)
    return min(MAX_INVOCATION_THREADS, (os.cpu_count() or 1) + 4)


class InvocationPool:
    """A fixed set of daemon threads that run queued invocations in order (daemon: a hung invocation cannot
    hold the process past its grace period)."""

    def __init__(self, size: int, *, name: str = "invocation") -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        for index in range(size):
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True).start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a job handles its own failures; this keeps the thread alive regardless
                logger.exception("An invocation failed outside its own error handling.")


def _azurite_connection_string() -> str:
    from shared.config import AZURITE_CONNECTION_STRING  # the project's one definition of the shorthand

    return AZURITE_CONNECTION_STRING


def _client_options() -> dict[str, Any]:
    # The poll loop retries by itself; the SDK's default (3 retries from 15 s) would stall it for a minute
    # whenever Azurite is not up yet.
    retry = LinearRetry(backoff=1, retry_total=1, random_jitter_range=0)
    return {"retry_policy": retry, "connection_timeout": 5}


def queue_client(connection: str, queue_name: str, environ: Mapping[str, str] | None = None) -> QueueClient:
    """A client for `queue_name` through the connection a binding names, resolved as the host does:
    the setting itself (or `AzureWebJobs<name>`) as a connection string, else `<name>__queueServiceUri`
    (or `__serviceUri`) with an Entra ID credential."""
    environ = os.environ if environ is None else environ
    name = connection or DEFAULT_CONNECTION
    value = (environ.get(name) or environ.get(f"AzureWebJobs{name}") or "").strip()
    if value:
        if value.replace(" ", "").lower().rstrip(";") == "usedevelopmentstorage=true":
            value = _azurite_connection_string()
        return QueueClient.from_connection_string(value, queue_name, **_client_options())
    service_uri = (environ.get(f"{name}__queueServiceUri") or environ.get(f"{name}__serviceUri") or "")
    service_uri = service_uri.strip()
    if not service_uri:
        raise HostConfigError(
            f"The queue connection '{name}' is not set: set {name} to a connection string, "
            f"or {name}__queueServiceUri for identity-based access."
        )
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    client_id = (environ.get(f"{name}__clientId") or "").strip() or None
    if (environ.get(f"{name}__credential") or "").strip().lower() == "managedidentity":
        credential: Any = ManagedIdentityCredential(client_id=client_id)
    else:
        credential = DefaultAzureCredential(managed_identity_client_id=client_id)
    return QueueClient(service_uri, queue_name, credential=credential, **_client_options())


def decode_body(text: str, encoding: str) -> bytes:
    """The bytes a function receives for a message's stored text; ValueError when it is not valid base64."""
    if encoding == "none":
        return text.encode("utf-8")
    compact = "".join(text.split())  # .NET's Convert.FromBase64String ignores whitespace
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not valid base64 ({exc})") from None


def encode_body(value: Any, encoding: str) -> str:
    """The stored text for one output value (str, bytes or func.QueueMessage)."""
    if isinstance(value, func.QueueMessage):  # the base of FunctionQueueMessage too
        value = value.get_body()
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes | bytearray):
        raise TypeError(f"a queue output must be str, bytes or func.QueueMessage, not {type(value).__name__}")
    if encoding == "none":
        return bytes(value).decode("utf-8")
    return base64.b64encode(bytes(value)).decode("ascii")


_QUEUE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]")


def queue_name_of(raw: str) -> str:
    """A binding's queue name with `%SETTING%` resolved, lower-cased and checked, as the host does."""
    name = resolve_settings(raw).strip().lower()
    if not _QUEUE_NAME.fullmatch(name):
        raise HostConfigError(
            f"'{name}' is not a valid queue name: 3-63 characters of a-z, 0-9 and single hyphens, "
            "starting and ending with a letter or digit."
        )
    return name


def ensure_queue(client: QueueClient) -> None:
    try:
        client.create_queue()
    except ResourceExistsError:
        pass


class OutputSender:
    """Sends the values a function set on its queue output bindings, after it returned successfully."""

    def __init__(self, options: QueueOptions, factory: ClientFactory = queue_client) -> None:
        self._options = options
        self._factory = factory
        self._ready: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, spec: FunctionSpec, outcome: Outcome) -> None:
        for binding in spec.outputs:
            if binding["type"] != QUEUE_OUT:
                continue
            value = outcome.value_for(binding)
            if value is None:
                continue
            values: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
            connection = str(binding.get("connection") or DEFAULT_CONNECTION)
            queue_name = queue_name_of(str(binding["queueName"]))
            client = self._factory(connection, queue_name)
            with self._lock:
                if (connection, queue_name) not in self._ready:
                    ensure_queue(client)
                    self._ready.add((connection, queue_name))
            for item in values:
                client.send_message(encode_body(item, self._options.message_encoding))


class QueuePoller:
    """Polls one queue for one queue-triggered function until `stop` is set."""

    def __init__(self, spec: FunctionSpec, client: QueueClient, poison: QueueClient, *, options: QueueOptions,
                 retry_seconds: float, deliver: Callable[[FunctionSpec, Outcome], None],
                 stop: threading.Event, pool: InvocationPool | None = None) -> None:
        self.spec = spec
        self._client = client
        self._poison = poison
        self._options = options
        self._retry_seconds = max(0, round(retry_seconds))  # the service takes whole seconds
        self._deliver = deliver
        self._stop = stop
        self._pool = pool or InvocationPool(options.batch_size + options.new_batch_threshold, name=spec.name)
        self._poison_ready = False
        self._in_flight = 0  # fetched and not yet settled (running, or waiting for a pool thread)
        self._settled = threading.Condition()

    @property
    def queue_name(self) -> str:
        return self._client.queue_name

    def run(self) -> None:
        delay = MIN_POLL_SECONDS
        created = False
        reported_outage = False
        while self._room_for_a_batch():
            try:
                if not created:
                    ensure_queue(self._client)
                    created = True
                batch = list(self._client.receive_messages(
                    max_messages=self._options.batch_size, visibility_timeout=LEASE_SECONDS))
                if reported_outage:
                    logger.info("Queue '%s' is reachable again.", self.queue_name)
                    reported_outage = False
            except AzureError as exc:
                created = created and not isinstance(exc, ResourceNotFoundError)  # deleted under us
                if not reported_outage:
                    logger.warning("Cannot reach queue '%s' for function '%s': %s. Retrying.",
                                self.queue_name, self.spec.name, type(exc).__name__)
                    reported_outage = True
                batch = []
            except Exception:  # a defect here must not end the polling for good
                logger.exception("Polling queue '%s' failed; retrying.", self.queue_name)
                batch = []
            if not batch:
                # Back off while idle, as the host does, but never past its max polling interval.
                self._stop.wait(delay)
                delay = min(delay * 2, self._options.max_polling_interval)
                continue
            delay = MIN_POLL_SECONDS  # messages are flowing: the next poll comes as soon as there is room
            with self._settled:
                self._in_flight += len(batch)
            for message in batch:
                self._pool.submit(lambda message=message: self._run_one(message))
        # Stopping: what runs finishes (the drain's grace period bounds the wait); what waits is released.
        with self._settled:
            while self._in_flight:
                self._settled.wait()

    def _room_for_a_batch(self) -> bool:
        """Wait until the messages in flight are down to newBatchThreshold; False once stopping."""
        with self._settled:
            while self._in_flight > self._options.new_batch_threshold and not self._stop.is_set():
                self._settled.wait(0.1)  # timed: `stop` is an Event this condition is not told about
        return not self._stop.is_set()

    def _run_one(self, message: StorageMessage) -> None:
        try:
            if self._stop.is_set():
                # Fetched but not started when the host began to stop: visible again at once for the next host.
                self._settle(lambda: self._client.update_message(
                    message.id, pop_receipt=message.pop_receipt, visibility_timeout=0), message)
            else:
                self._handle(message)
        finally:
            with self._settled:
                self._in_flight -= 1
                self._settled.notify_all()

    def _handle(self, message: StorageMessage) -> None:
        count = int(message.dequeue_count or 0)
        if count > self._options.max_dequeue_count:
            # Its lease ran out too often without a verdict (e.g. the host was stopped mid-run).
            self._to_poison(message, f"dequeued {count} times")
            return
        try:
            body = decode_body(str(message.content or ""), self._options.message_encoding)
        except ValueError as exc:
            logger.warning("Message %s on '%s' cannot be decoded: %s.", message.id, self.queue_name, exc)
            self._to_poison(message, "it could not be decoded")
            return
        trigger = FunctionQueueMessage(
            id=message.id, body=body, dequeue_count=count, expiration_time=message.expires_on,
            insertion_time=message.inserted_on, time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        started = time.perf_counter()
        try:
            outcome = invoke(self.spec, trigger)
            self._deliver(self.spec, outcome)
        except Exception:
            logger.exception("Function '%s' failed on message %s (dequeue count %d).",
                          self.spec.name, message.id, count)
            self._after_failure(message, count)
            return
        logger.info("Executed '%s' for message %s (Succeeded, %.0f ms).",
                 self.spec.name, message.id, (time.perf_counter() - started) * 1000)
        self._settle(lambda: self._client.delete_message(message), message)

    def _after_failure(self, message: StorageMessage, count: int) -> None:
        if count >= self._options.max_dequeue_count:
            self._to_poison(message, f"failed {count} times")
        else:
            # By id and receipt, so only the visibility changes and the stored text stays as it was.
            self._settle(lambda: self._client.update_message(
                message.id, pop_receipt=message.pop_receipt, visibility_timeout=self._retry_seconds), message)

    def _to_poison(self, message: StorageMessage, why: str) -> None:
        def move() -> None:
            if not self._poison_ready:
                ensure_queue(self._poison)
                self._poison_ready = True
            self._poison.send_message(message.content)
            self._client.delete_message(message)

        logger.warning("Moving message %s from '%s' to '%s': %s.",
                    message.id, self.queue_name, self._poison.queue_name, why)
        self._settle(move, message)

    def _settle(self, action: Callable[[], Any], message: StorageMessage) -> None:
        try:
            action()
        except ResourceNotFoundError:
            # Its lease ran out and another receive owns it now; that receive settles it.
            logger.warning("Message %s on '%s' changed hands before it was settled.",
                        message.id, self.queue_name)
        except AzureError as exc:
            logger.warning("Could not settle message %s on '%s': %s; it will reappear.",
                        message.id, self.queue_name, type(exc).__name__)


def build_poller(spec: FunctionSpec, *, options: QueueOptions, retry_seconds: float,
                 deliver: Callable[[FunctionSpec, Outcome], None], stop: threading.Event,
                 factory: ClientFactory = queue_client, pool: InvocationPool | None = None) -> QueuePoller:
    """Resolve the trigger's queue name (`%SETTING%` allowed) and connection; raises HostConfigError."""
    queue_name = queue_name_of(str(spec.trigger["queueName"]))
    connection = str(spec.trigger.get("connection") or DEFAULT_CONNECTION)
    return QueuePoller(spec, factory(connection, queue_name), factory(connection, f"{queue_name}-poison"),
                       options=options, retry_seconds=retry_seconds, deliver=deliver, stop=stop, pool=pool)
