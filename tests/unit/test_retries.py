"""The retry policy every outbound call to Microsoft shares (shared/adapters/retries.py)."""
from __future__ import annotations

import time

import pytest

from shared.adapters.retries import Retrying, RetryPolicy, retry_after

POLICY = RetryPolicy(attempts=3, retry_after_cap=5.0, backoff=0.5, request_timeout=2.0)


@pytest.mark.parametrize("headers, expected", [
    ({"Retry-After": "7"}, 7.0), ({"Retry-After": "0.5"}, 0.5), ({}, None), ({"Retry-After": "-1"}, None),
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
])
def test_retry_after_is_read_in_seconds_only(headers, expected):
    assert retry_after(headers) == expected


def test_a_429_waits_for_its_retry_after_up_to_the_cap():
    sleeps: list[float] = []
    retrying = Retrying(POLICY, sleep=sleeps.append)
    far = time.monotonic() + 60

    assert retrying.wait(3.0, far, 0, throttled=True) and retrying.wait(60.0, far, 1, throttled=True)
    assert sleeps == [3.0, 5.0]


def test_a_5xx_backs_off_with_full_jitter_doubling():
    sleeps: list[float] = []
    retrying = Retrying(POLICY, sleep=sleeps.append)

    for attempt in (0, 1):
        assert retrying.wait(None, time.monotonic() + 60, attempt, throttled=False)

    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0


def test_no_wait_after_the_last_attempt_or_past_the_deadline():
    sleeps: list[float] = []
    retrying = Retrying(POLICY, sleep=sleeps.append)

    assert not retrying.wait(1.0, time.monotonic() + 60, POLICY.attempts - 1, throttled=True)
    assert not retrying.wait(4.0, time.monotonic() + 1, 0, throttled=True)
    assert sleeps == []


def test_attempts_stop_at_the_count_and_their_time_outs_at_the_deadline():
    retrying = Retrying(POLICY)

    attempts = list(retrying.attempts(time.monotonic() + 60))
    near = list(retrying.attempts(time.monotonic() + 1.0, attempts=1))

    assert [attempt for attempt, _ in attempts] == [0, 1, 2] and all(timeout == 2.0 for _, timeout in attempts)
    assert len(near) == 1 and 0 < near[0][1] <= 1.0
    assert list(retrying.attempts(time.monotonic() - 1)) == []
