"""A TCP proxy in front of Azurite's table endpoint that can hold, unanswered, every request naming a table: the
app behind it then hangs at exactly its first call to that table, so a test can kill it there (between two
writes), as a host dies between two steps. Everything else passes through unchanged.

It reads each HTTP/1.1 request whole (headers, then a Content-Length body; the Azure SDK sends no chunked request
bodies) from the client before sending it on, and copies the answers back as they come.
"""
from __future__ import annotations

import contextlib
import socket
import threading

_HEAD_END = b"\r\n\r\n"


class HoldingProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._hold: bytes | None = None
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.held = threading.Event()  # set once a request was held
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self, marker: bytes) -> None:
        """From now on, hold every request whose line, headers or body hold `marker`."""
        with self._lock:
            self._hold = marker

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> HoldingProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._copy, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                while _HEAD_END not in buffer:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = buffer.partition(_HEAD_END)
                length = _content_length(head)
                while len(rest) < length:
                    chunk = client.recv(65536)
                    if not chunk:
                        return
                    rest += chunk
                request, buffer = head + _HEAD_END + rest[:length], rest[length:]
                with self._lock:
                    marker = self._hold
                if marker is not None and marker in request:
                    self.held.set()
                    return  # never sent on, never answered: the client waits until it is killed
                upstream.sendall(request)
        except OSError:
            return

    @staticmethod
    def _copy(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0
