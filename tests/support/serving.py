"""Lifecycle of a test server that runs on a daemon thread: start/stop and use as a context manager."""
from __future__ import annotations

import socketserver
import threading
from typing import Self

from tools.identity_sim.server import TlsThreadingServer


class ServedInThread:
    """Subclasses build their server in `_make_server()`; `thread_name` names the thread in dumps."""

    thread_name = "test-server"
    _server: socketserver.BaseServer | None = None
    _thread: threading.Thread | None = None

    def _make_server(self) -> socketserver.BaseServer:
        raise NotImplementedError

    def start(self) -> Self:
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if isinstance(self._server, TlsThreadingServer):  # release requests held and idle connections
                self._server.stopping.set()
                self._server.close_connections()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return self._server.server_address[1]
