"""Queue triggers as the Functions host runs them (its QueueListener and QueueProcessor), over azure-storage-queue.

host.json `extensions.queues` sets batching (batchSize, newBatchThreshold), idle polling (maxPollingInterval),
the retry delay after a failure (visibilityTimeout, default 0), the tries before `<queue>-poison`
(maxDequeueCount, default 5) and the text encoding (messageEncoding, default base64: a message that does not
decode goes straight to the poison queue). A fetched message is hidden for 10 minutes, renewed every 5 while its
function runs. The functions run on one pool of PYTHON_THREADPOOL_THREAD_COUNT threads, as in the Python worker.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionQueueMessage  # carries dequeue_count and times
from azure.storage.queue import LinearRetry, QueueClient
from azure.storage.queue import QueueMessage as StorageMessage

from shared.adapters.storage_clients import queue_service_from_config
from shared.config import StorageConfig, connection_string
from tools.hostconfig import HostConfigError, QueueOptions, resolve_settings
from tools.invocation import FunctionSpec

logger = logging.getLogger(__name__)

HOLD_SECONDS = 600  # how long a fetched message stays hidden; renewed at half that while its function runs
MIN_RENEWAL_SECONDS = 60.0
MIN_POLL_SECONDS = 0.1
THREADPOOL_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
_QUEUE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]")


def invocation_threads(environ: Mapping[str, str] | None = None) -> int:
    """The Python worker's pool size: the setting when it is 1..32, else min(32, CPUs + 4)."""
    raw = ((os.environ if environ is None else environ).get(THREADPOOL_SETTING) or "").strip()
    valid = raw.isdigit() and 1 <= int(raw) <= 32
    if raw and not valid:
        logger.warning("%s=%r is not a whole number from 1 to 32; using the default.", THREADPOOL_SETTING, raw)
    return int(raw) if valid else min(32, (os.cpu_count() or 1) + 4)


def queue_client(connection: str, queue_name: str, environ: Mapping[str, str] | None = None) -> QueueClient:
    """A client for `queue_name` through the connection string a binding names (`<name>` or `AzureWebJobs<name>`)."""
    environ = os.environ if environ is None else environ
    value = (environ.get(connection) or environ.get(f"AzureWebJobs{connection}") or "").strip()
    if not value:
        raise HostConfigError(f"The queue connection '{connection}' is not set to a connection string (the local "
                              f"host polls queues with a connection string only, not {connection}__queueServiceUri).")
    # Retried by the poll loop (the SDK's own retries stall it while Azurite is down); pooled like the app's clients.
    return queue_service_from_config(StorageConfig(connection_string=connection_string(value)), connection_timeout=5,
                                     retry_policy=LinearRetry(backoff=1, retry_total=1, random_jitter_range=0),
                                     pool_size=invocation_threads(environ) + 2).get_queue_client(queue_name)


def decode_body(text: str, encoding: str) -> bytes:
    """The bytes a function receives for a message's stored text; ValueError when it is not valid base64."""
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode("".join(text.split()), validate=True)  # .NET ignores whitespace in base64
    except binascii.Error as exc:
        raise ValueError(f"not valid base64 ({exc})") from None


def queue_name_of(raw: str) -> str:
    """A binding's queue name with `%SETTING%` resolved, lower-cased and checked, as the host does."""
    name = resolve_settings(raw).strip().lower()
    if not _QUEUE_NAME.fullmatch(name):
        raise HostConfigError(f"'{name}' is not a valid queue name: 3-63 characters of a-z, 0-9 and single "
                              "hyphens, starting and ending with a letter or digit.")
    return name


class QueuePoller:
    """Polls one queue for one queue-triggered function until `stop` is set; runs its messages on `pool`."""

    def __init__(self, spec: FunctionSpec, client: QueueClient, poison: QueueClient, *, options: QueueOptions,
                 stop: threading.Event, pool: Executor, hold_seconds: int = HOLD_SECONDS) -> None:
        self.spec, self._client, self._poison, self._options = spec, client, poison, options
        self._stop, self._pool, self._hold_seconds = stop, pool, hold_seconds
        self._in_flight = 0  # fetched and not yet settled (running, or waiting for a pool thread)
        self._settled = threading.Condition()

    @property
    def queue_name(self) -> str:
        return self._client.queue_name

    def run(self) -> None:
        delay, outage = MIN_POLL_SECONDS, False
        while self._room_for_a_batch():
            try:
                batch = list(self._client.receive_messages(max_messages=self._options.batch_size,
                                                           visibility_timeout=self._hold_seconds))
                outage = False
            except Exception as exc:  # a missing queue is no outage: the app creates it when it sends
                if not outage and not isinstance(exc, ResourceNotFoundError):
                    logger.warning("Cannot reach queue '%s': %s. Retrying.", self.queue_name, type(exc).__name__)
                outage, batch = not isinstance(exc, ResourceNotFoundError), []
            if not batch:
                self._stop.wait(delay)  # back off while idle, up to the max polling interval
                delay = min(delay * 2, self._options.max_polling_interval)
                continue
            delay = MIN_POLL_SECONDS
            with self._settled:
                self._in_flight += len(batch)
            for message in batch:
                self._pool.submit(self._run_one, message)
        with self._settled:  # stopping: what runs finishes (within the grace period); what waits is released
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
            if self._stop.is_set():  # fetched, not started: visible again at once for the next host
                self._settle(message, lambda: self._client.update_message(
                    message.id, pop_receipt=message.pop_receipt, visibility_timeout=0))
            else:
                self._handle(message)
        finally:
            with self._settled:
                self._in_flight -= 1
                self._settled.notify_all()

    def _handle(self, message: StorageMessage) -> None:
        count = int(message.dequeue_count or 0)
        if count > self._options.max_dequeue_count:  # its hold ran out too often without a verdict
            return self._to_poison(message, f"dequeued {count} times")
        try:
            body = decode_body(str(message.content or ""), self._options.message_encoding)
        except ValueError as exc:
            return self._to_poison(message, f"it cannot be decoded: {exc}")
        trigger = FunctionQueueMessage(
            id=message.id, body=body, dequeue_count=count, expiration_time=message.expires_on,
            insertion_time=message.inserted_on, time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt)
        done = threading.Event()
        holder = threading.Thread(target=self._hold, args=(message, done), name=f"hold-{message.id}", daemon=True)
        holder.start()
        started = time.perf_counter()
        try:
            self.spec(trigger)
        except Exception:
            logger.exception("Function %r failed on message %s (dequeue count %d).", self.spec.name, message.id, count)
            succeeded = False
        else:
            succeeded = True
            logger.info("Executed '%s' for message %s (Succeeded, %.0f ms).", self.spec.name, message.id,
                        (time.perf_counter() - started) * 1000)
        finally:
            done.set()
            holder.join()  # the message's receipt is settled after its last renewal
        if succeeded:
            self._settle(message, lambda: self._client.delete_message(message.id, pop_receipt=message.pop_receipt))
        elif count >= self._options.max_dequeue_count:
            self._to_poison(message, f"failed {count} times")
        else:  # by id and receipt, so only the visibility changes and the stored text stays as it was
            self._settle(message, lambda: self._client.update_message(
                message.id, pop_receipt=message.pop_receipt, visibility_timeout=int(self._options.visibility_timeout)))

    def _hold(self, message: StorageMessage, done: threading.Event) -> None:
        """Renew the message's hold at half its length until `done`; each renewal gives a new pop receipt."""
        normal = self._hold_seconds / 2
        interval = normal
        while not done.wait(interval):
            try:
                receipt = self._client.update_message(message.id, pop_receipt=message.pop_receipt,
                                                      visibility_timeout=self._hold_seconds)
            except AzureError as exc:
                if getattr(exc, "status_code", None) in (400, 404):  # deleted, or taken by another receive
                    logger.warning("Lost the hold on message %s of '%s'.", message.id, self.queue_name)
                    return
                interval = max(min(MIN_RENEWAL_SECONDS, normal), interval / 2)
                continue
            message.pop_receipt, interval = receipt.pop_receipt, normal
            logger.debug("Renewed the hold on message %s of '%s'.", message.id, self.queue_name)

    def _to_poison(self, message: StorageMessage, why: str) -> None:
        def move() -> None:
            with contextlib.suppress(ResourceExistsError):
                self._poison.create_queue()  # as the host does, on its first use
            self._poison.send_message(message.content)
            self._client.delete_message(message.id, pop_receipt=message.pop_receipt)

        logger.warning("Moving message %s from '%s' to '%s': %s.", message.id, self.queue_name,
                       self._poison.queue_name, why)
        self._settle(message, move)

    def _settle(self, message: StorageMessage, action: Callable[[], Any]) -> None:
        try:
            action()
        except AzureError as exc:  # its hold ran out and another receive owns it, or storage is down
            logger.warning("Could not settle message %s on '%s' (%s); it will reappear.", message.id,
                           self.queue_name, type(exc).__name__)


def build_poller(spec: FunctionSpec, *, options: QueueOptions, stop: threading.Event, pool: Executor,
                 factory: Callable[[str, str], QueueClient] = queue_client) -> QueuePoller:
    """Resolve the trigger's queue name (`%SETTING%` allowed) and connection; raises HostConfigError."""
    queue_name = queue_name_of(str(spec.trigger["queueName"]))
    connection = str(spec.trigger.get("connection") or "AzureWebJobsStorage")
    return QueuePoller(spec, factory(connection, queue_name), factory(connection, f"{queue_name}-poison"),
                       options=options, stop=stop, pool=pool)
