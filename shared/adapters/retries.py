"""The retry policy of the design, for every outbound call to Microsoft (the identity platform, Microsoft Graph):
a 429 waits for its Retry-After (capped); 5xx, resets and time-outs back off with full jitter; attempts are
bounded, and no attempt or wait runs past the caller's deadline (a time.monotonic() value)."""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # requests per call, at most
    retry_after_cap: float = 30.0  # the longest a Retry-After is honoured
    backoff: float = 0.5  # first back-off after a 5xx, reset or time-out; doubles, with full jitter
    request_timeout: float = 20.0  # seconds for one HTTP request (also bounded by the deadline)


DEFAULT_POLICY = RetryPolicy()


class Retrying:
    """One policy and one way to sleep (tests pass their own), shared by the adapters that call out."""

    def __init__(self, policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.policy = policy
        self._sleep = sleep

    def attempts(self, deadline: float, attempts: int | None = None) -> Iterator[tuple[int, float]]:
        """Each attempt's number and the time-out for its request (bounded by what is left), while attempts and
        time remain."""
        for attempt in range(attempts or self.policy.attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            yield attempt, min(self.policy.request_timeout, remaining)

    def wait(self, retry_after: float | None, deadline: float, attempt: int, *, throttled: bool) -> bool:
        """Sleep before the next attempt; False when there is no next attempt (or no time for it)."""
        if attempt + 1 >= self.policy.attempts:
            return False
        if throttled:
            delay = min(retry_after if retry_after is not None else self.policy.backoff, self.policy.retry_after_cap)
        else:
            delay = random.uniform(0, self.policy.backoff * 2 ** attempt)  # full jitter
        if time.monotonic() + delay >= deadline:
            return False
        self._sleep(delay)
        return True


def retry_after(headers: Mapping[str, str]) -> float | None:
    """A Retry-After given in seconds; None when absent or in another form (the back-off then applies)."""
    try:
        seconds = float(headers["Retry-After"])
    except (KeyError, ValueError):
        return None
    return seconds if seconds >= 0 else None
