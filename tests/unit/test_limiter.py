"""The per-process concurrency limit: at most the ceiling in flight, halved by throttling, regained slowly."""
import threading

import pytest

from shared.usecases.limiter import ConcurrencyLimiter


def test_throttling_halves_the_limit_and_calm_answers_bring_it_back():
    limiter = ConcurrencyLimiter(16, recover_after=4)
    limiter.throttled()
    limiter.throttled()
    assert limiter.limit == 4
    for _ in range(4 * 12):
        limiter.answered()
    assert limiter.limit == 16  # recovered, and never past the ceiling
    for _ in range(20):
        limiter.throttled()
    assert limiter.limit == 1  # never below one


def test_no_more_than_the_limit_are_in_flight():
    limiter = ConcurrencyLimiter(3)
    inside, peak, lock = 0, 0, threading.Lock()
    release = threading.Event()

    def work():
        nonlocal inside, peak
        with limiter.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            release.wait(timeout=10)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    waited = 0
    while waited < 200 and inside < 3:  # let the first three in
        threading.Event().wait(0.01)
        waited += 1
    assert inside == 3
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert peak == 3 and inside == 0


def test_a_ceiling_below_one_is_refused():
    with pytest.raises(ValueError):
        ConcurrencyLimiter(0)
