"""Every request the simulator received, for tests to inspect: never a secret value, only facts and fingerprints.

A request is recorded when it arrives (status None) and completed when it is answered, so a test can see a
request that reached the server even when it was reset or left hanging.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string (an authorize query may carry a login hint)
    endpoint: str  # token | discovery | userrealm | authorize | adminconsent | other
    tenant: str  # the tenant path segment as sent ("common" for userrealm)
    tenant_id: str | None  # resolved tenant id, when known
    received_at: float  # time.time() at arrival
    grant_type: str | None = None
    client_id: str | None = None
    user: str | None = None  # the UPN concerned, when there is one
    client_auth: str | None = None  # "secret" | "assertion" | None: how the client authenticated, not with what
    refresh_token_fingerprint: str | None = None  # tokens.fingerprint of the refresh token sent
    scope: str | None = None
    correlation_id: str | None = None  # the client-request-id header MSAL sends
    outcome: str | None = None  # the scripted outcome applied, e.g. "Throttle", "Reset"
    status: int | None = None  # None: not answered (yet, or never: reset / hang)
    answered_at: float | None = None


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[int, RecordedRequest] = {}  # by arrival number; survives a clear() mid-request
        self._next = 0
        self._counts: Counter[str] = Counter()
        self._in_flight = 0
        self._peak_in_flight = 0

    def arrived(self, request: RecordedRequest) -> int:
        with self._lock:
            number, self._next = self._next, self._next + 1
            self._requests[number] = request
            self._counts["requests"] += 1
            self._counts[f"endpoint:{request.endpoint}"] += 1
            if request.grant_type:
                self._counts[f"grant:{request.grant_type}"] += 1
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            return number

    def scripted(self, number: int, outcome: str | None) -> None:
        """Notes the scripted outcome as soon as it is chosen, so a request left hanging shows it."""
        if outcome is None:
            return
        with self._lock:
            current = self._requests.get(number)
            if current is not None:
                self._requests[number] = dataclasses.replace(current, outcome=outcome)

    def finished(self, number: int, *, status: int | None, outcome: str | None = None) -> None:
        with self._lock:
            current = self._requests.get(number)
            if current is not None:
                self._requests[number] = dataclasses.replace(
                    current, status=status, outcome=outcome or current.outcome, answered_at=time.time())
            self._counts[f"status:{status if status is not None else 'none'}"] += 1
            if outcome:
                self._counts[f"outcome:{outcome}"] += 1
            self._in_flight -= 1

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests.values())

    def counters(self) -> Counter[str]:
        """`requests`, `endpoint:<name>`, `grant:<type>`, `status:<code>`, `outcome:<name>`, `in_flight`,
        `peak_in_flight` (the most requests handled at once, for concurrency benchmarks); absent keys count 0."""
        with self._lock:
            return Counter({**self._counts, "in_flight": self._in_flight, "peak_in_flight": self._peak_in_flight})

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._counts.clear()
            self._peak_in_flight = self._in_flight
