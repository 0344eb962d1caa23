"""WorkQueue on Azure Queue Storage: the queue `verify-requests` that the queue-triggered worker reads.

The Functions host base64-decodes a queue trigger's message by default (host.json
`extensions.queues.messageEncoding`), so each message is the JSON of domain/work.py, UTF-8, base64-encoded by the
SDK's TextBase64EncodePolicy; a message sent as plain text would go straight to the poison queue.
"""
from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy

from ..domain.errors import STORAGE_UNAVAILABLE, DependencyUnavailable
from ..domain.work import Work, encode

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024  # what the service accepts per message, after base64
_UNAVAILABLE = "Queue Storage cannot be reached right now; try again in a moment."


class StorageWorkQueue:
    """Implements ports.WorkQueue. Creates its queue on first use, once per instance."""

    def __init__(self, service: QueueServiceClient, *, queue: str = "verify-requests") -> None:
        self._client: QueueClient = service.get_queue_client(queue, message_encode_policy=TextBase64EncodePolicy())
        self._ready = False
        self._lock = threading.Lock()

    def send(self, work: list[Work], *, delay: timedelta | None = None) -> None:
        """One message per item, in order; with `delay`, hidden until it has passed (the service's initial
        visibility timeout). Sizes are checked before anything is sent, so an item too large for a message
        (a chunk of too many customers) sends none of them."""
        texts = [encode(item) for item in work]
        for text in texts:
            size = len(base64.b64encode(text.encode("utf-8")))
            if size > MAX_MESSAGE_BYTES:
                raise ValueError(f"A queue message holds at most {MAX_MESSAGE_BYTES} bytes, not {size}.")
        if not texts:
            return
        hidden = max(0, round(delay.total_seconds())) if delay is not None else None
        with _queue_call("send work"):
            sent = 0
            for attempt in range(2):
                self._ensure_queue()
                try:
                    for text in texts[sent:]:
                        self._client.send_message(text, visibility_timeout=hidden)
                        sent += 1
                    return
                except ResourceNotFoundError as error:
                    if attempt or error.error_code != "QueueNotFound":
                        raise
                    # Deleted since this process created it (storage restarted empty): create it again.
                    logger.warning("Queue %s is missing: creating it again.", self._client.queue_name)
                    self._ready = False

    def _ensure_queue(self) -> None:
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                try:
                    self._client.create_queue()
                except ResourceExistsError:
                    pass
                self._ready = True


@contextmanager
def _queue_call(action: str) -> Iterator[None]:
    """Every SDK failure becomes DependencyUnavailable (a 503), as table_common.storage_call does for tables."""
    try:
        yield
    except AzureError as error:
        # The SDK's text can hold URLs and request ids; the log gets the kind and status, not the text.
        logger.warning("Queue Storage failed to %s: %s (status %s).", action, type(error).__name__,
                       getattr(error, "status_code", None))
        raise DependencyUnavailable(STORAGE_UNAVAILABLE, _UNAVAILABLE) from error
