"""How many verifications a worker process has in flight: at most VERIFY_CONCURRENCY, fewer while the
identity platform throttles.

Additive increase, multiplicative decrease: a throttled answer halves the limit, and every `recover_after`
answers that were not throttled raise it by one again, up to the configured ceiling.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ConcurrencyLimiter:
    def __init__(self, ceiling: int, *, recover_after: int = 8) -> None:
        if ceiling < 1:
            raise ValueError("ceiling must be at least 1")
        self.ceiling = ceiling
        self._limit = ceiling
        self._in_flight = 0
        self._calm = 0
        self._recover_after = recover_after
        self._changed = threading.Condition()

    @property
    def limit(self) -> int:
        return self._limit

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._in_flight < self._limit)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def throttled(self) -> None:
        with self._changed:
            self._limit = max(1, self._limit // 2)
            self._calm = 0

    def answered(self) -> None:
        with self._changed:
            self._calm += 1
            if self._calm >= self._recover_after and self._limit < self.ceiling:
                self._limit += 1
                self._calm = 0
                self._changed.notify_all()
