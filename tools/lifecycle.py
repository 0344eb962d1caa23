"""Stopping the local host as the Functions host stops: on SIGTERM or Ctrl-C it takes no new work and lets
what runs finish within a grace period.

The listener closes, so new connections are refused; idle keep-alive connections close; requests in
flight get their whole response (with Connection: close). Timers fire no more and queue pollers take no
new batch, while the invocations already running finish. Past the grace period the host exits anyway,
abandoning what still runs.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from tools.httpserver import FunctionsHTTPServer

logger = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 10.0


class StopSignals:
    """SIGTERM and SIGINT ask for a stop; the main thread waits for the first."""

    def __init__(self) -> None:
        self.received: int | None = None

    def install(self) -> None:
        # SIGINT too: a shell that starts us in the background leaves it ignored, and Ctrl-C must still work.
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Later signals (a script's trap often repeats the first) must not cut the drain short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.received = signum

    def wait(self) -> int:
        # A flag polled with sleeps, not an Event: the handler runs on this thread, and one that took a lock
        # could deadlock with the code it interrupted.
        while self.received is None:
            time.sleep(0.05)
        return self.received


def drain(server: FunctionsHTTPServer, *, stop: threading.Event, workers: Sequence[threading.Thread],
          grace: float) -> bool:
    """Take no new work and wait up to `grace` seconds for what runs; True when all of it finished."""
    deadline = time.monotonic() + grace
    stop.set()  # timers and queue pollers start nothing new; each worker thread ends after its invocation
    in_flight = server.drain(deadline=deadline)
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    running = [worker.name for worker in workers if worker.is_alive()]
    if not in_flight and not running:
        return True
    logger.warning("Stopping after the %g s grace period with %d request(s) still in flight%s.", grace, in_flight,
                f" and {', '.join(running)} still running" if running else "")
    return False


def exit_now(status: int) -> None:
    """Exit without waiting for the threads an abandoned invocation may have started (atexit joins them)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
