"""What the receiver took in: each message once (deduplicated by X-Delivery-Id), and every attempt that reached it
with what it answered, for tests and the demo to read."""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Received:
    """One message taken in (a repeated delivery id is not taken again)."""

    channel: str
    kind: str  # "webhook" | "teams"
    delivery_id: str | None
    payload: Any  # the JSON body, parsed
    host: str  # the Host header as sent
    scheme: str  # "https" | "http"
    received_at: float  # time.time()


@dataclass(frozen=True)
class Attempt:
    """One request that reached a channel's path, and what it was answered."""

    path: str  # without the query string (a Teams URL carries its signature there)
    delivery_id: str | None
    status: int
    outcome: str  # "accepted" | "duplicate" | "scripted" | "rejected: <why>"
    answer_complete: bool = True  # False when the client went away before the whole answer was written


class Inbox:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._messages: list[Received] = []
        self._attempts: list[Attempt] = []
        self._seen: set[tuple[str, str]] = set()

    def take(self, message: Received) -> bool:
        """Keeps `message` unless its channel already took its delivery id; False for a duplicate."""
        with self._changed:
            if message.delivery_id is not None:
                key = (message.channel, message.delivery_id)
                if key in self._seen:
                    return False
                self._seen.add(key)
            self._messages.append(message)
            self._changed.notify_all()
            return True

    def attempted(self, attempt: Attempt) -> int:
        """Records an attempt (before it is answered, so a client that has its answer finds it); its number."""
        with self._changed:
            self._attempts.append(attempt)
            self._changed.notify_all()
            return len(self._attempts) - 1

    def answer_cut_short(self, number: int) -> None:
        """The client of attempt `number` went away before the whole answer was written."""
        with self._changed:
            self._attempts[number] = dataclasses.replace(self._attempts[number], answer_complete=False)
            self._changed.notify_all()

    def messages(self) -> list[Received]:
        with self._changed:
            return list(self._messages)

    def attempts(self) -> list[Attempt]:
        with self._changed:
            return list(self._attempts)

    def wait_for(self, condition: Callable[[Inbox], bool], *, timeout: float) -> bool:
        """Waits until `condition(self)` holds (checked at each change), at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def as_json(self) -> dict[str, Any]:
        with self._changed:
            return {"messages": [dataclasses.asdict(m) for m in self._messages],
                    "attempts": [dataclasses.asdict(a) for a in self._attempts]}
