"""The local host's open connections, each waiting for a request (idle) or serving one (busy).

A stop closes idle connections at once and waits for busy ones to finish their response, as Kestrel and
Go's http.Server.Shutdown do. A client whose request crosses that close on a kept-alive connection sees
the connection end and, for an idempotent request, retries it on a new one, which is then refused.
"""
from __future__ import annotations

import socket
import threading
import time
from enum import Enum


class _State(Enum):
    IDLE = "idle"
    BUSY = "busy"
    CLOSING = "closing"  # closed by a stop; its thread has yet to notice


class ConnectionTracker:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._states: dict[socket.socket, _State] = {}
        self.draining = False

    def opened(self, sock: socket.socket) -> bool:
        """Track a new connection; False once draining (the caller closes it unserved)."""
        with self._changed:
            if self.draining:
                return False
            self._states[sock] = _State.IDLE
            return True

    def busy(self, sock: socket.socket) -> bool:
        """A request arrived on `sock`; False when a stop closed the connection meanwhile."""
        with self._changed:
            if self._states.get(sock) is not _State.IDLE:
                return False
            self._states[sock] = _State.BUSY
            return True

    def idle(self, sock: socket.socket) -> bool:
        """The response is written; False when the connection must close instead of waiting for another."""
        with self._changed:
            if self.draining or sock not in self._states:
                return False
            self._states[sock] = _State.IDLE
            return True

    def closed(self, sock: socket.socket) -> None:
        with self._changed:
            self._states.pop(sock, None)
            self._changed.notify_all()

    def start_draining(self) -> None:
        """Turn new connections away and close the idle ones; busy ones close after their response."""
        with self._changed:
            self.draining = True
            for sock, state in self._states.items():
                if state is _State.IDLE:
                    self._states[sock] = _State.CLOSING
                    try:
                        sock.shutdown(socket.SHUT_RDWR)  # wakes its thread, blocked reading the next request
                    except OSError:
                        pass  # the client closed it already

    def wait_closed(self, *, deadline: float) -> int:
        """Wait until every connection is closed or `deadline` (time.monotonic()) passes; the number still busy."""
        with self._changed:
            while self._states and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)
            return sum(1 for state in self._states.values() if state is _State.BUSY)
