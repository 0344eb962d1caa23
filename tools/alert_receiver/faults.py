"""Answers the receiver is told to give instead of taking messages in: an HTTP status (500, 429 with Retry-After, a
302 with a Location, ...), optionally late or with a large body, for the next `times` requests or `seconds`."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Scripted:
    status: int
    retry_after: str | None = None
    location: str | None = None
    body_bytes: int = 0  # an answer this long (to check that clients read only the start of it)
    delay: float = 0.0  # seconds before answering (to check clients' time-outs)


class Script:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answer: Scripted | None = None
        self._times: int | None = None
        self._until: float | None = None

    def set(self, answer: Scripted, *, times: int | None = None, seconds: float | None = None) -> None:
        """Answer `answer` to the next `times` requests, or for `seconds`, or (neither) until cleared."""
        with self._lock:
            self._answer, self._times = answer, times
            self._until = None if seconds is None else time.monotonic() + seconds

    def clear(self) -> None:
        with self._lock:
            self._answer = None

    def next(self) -> Scripted | None:
        """The scripted answer for the request that just arrived, if any (counting it against `times`)."""
        with self._lock:
            if self._answer is None or (self._until is not None and time.monotonic() >= self._until):
                self._answer = None
                return None
            answer = self._answer
            if self._times is not None:
                self._times -= 1
                if self._times <= 0:
                    self._answer = None
            return answer
