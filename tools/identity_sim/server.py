"""The simulators' one server: threaded, on loopback, HTTPS with a certificate from a local CA (tls.py) or plain HTTP.

One thread per connection (HTTP/1.1 keep-alive), the TLS handshake in that thread, a listen backlog of 512, and
no lock held while a request waits (latency, hang), so N requests in flight wait concurrently. Each request
reaches `handle` as an `Exchange`, which ends in exactly one of: `send(reply)`, `reset()` (a TCP RST, no answer),
`drop()` (the connection closes, no answer). `close_connections()` ends idle keep-alive connections at a stop.
"""
from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import weakref
from collections.abc import Callable, Collection, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from requests.structures import CaseInsensitiveDict

from tools.identity_sim.replies import Reply

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
IDLE_CONNECTION_SECONDS = 120.0
HANDSHAKE_SECONDS = 10.0


class Exchange:
    """One request as the application layer sees it."""

    def __init__(self, handler: _Handler, body: bytes) -> None:
        self._handler, self.method, self.target, self.body = handler, handler.command, handler.path, body
        self.headers: Mapping[str, str] = CaseInsensitiveDict(handler.headers.items())  # as HTTP compares names
        self.head = f"{handler.requestline}\r\n{handler.headers}"  # request line and headers as received

    def send(self, reply: Reply) -> None:
        handler = self._handler
        handler.send_response(reply.status)
        for name, value in reply.headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        if self.method != "HEAD":
            handler.wfile.write(reply.body)

    def reset(self) -> None:
        """No answer: the socket is closed with SO_LINGER 0 once the handler returns, so the client gets a RST."""
        self._handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._handler.close_connection = True

    def drop(self) -> None:
        """No answer: the connection is closed normally."""
        self._handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "simulator"
    sys_version = ""
    timeout = IDLE_CONNECTION_SECONDS
    server: TlsThreadingServer

    def __getattr__(self, name: str) -> Any:
        # A method the server does not take has no do_X, and http.server answers it 501.
        if name.startswith("do_") and name[3:] in self.server.methods:
            return self._exchange
        raise AttributeError(name)

    def _exchange(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413)
            self.close_connection = True
            return
        self.server.handle(Exchange(self, self.rfile.read(length) if length else b""))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a simulator logs what it needs itself, without query strings


class TlsThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen backlog: a burst of concurrent connections is queued, not refused

    def __init__(self, address: tuple[str, int], *, context: ssl.SSLContext | None,
                 handle: Callable[[Exchange], None], methods: Collection[str] = ("GET", "POST", "HEAD")) -> None:
        """`context` None: plain HTTP (as the App Service managed identity endpoint speaks)."""
        super().__init__(address, _Handler)
        self._context, self.handle, self.methods = context, handle, frozenset(methods)
        self.stopping = threading.Event()
        self._open: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._open_lock = threading.Lock()

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        # Runs in the connection's thread, so a slow handshake holds only this connection.
        request.settimeout(HANDSHAKE_SECONDS)
        # Headers and body leave in separate writes; without NODELAY, Nagle + delayed ACK add ~40 ms to each.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            connection = request if self._context is None else self._context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as error:
            logger.debug("TLS handshake with %s failed: %s", client_address, error)
            request.close()
            return
        with self._open_lock:
            self._open.add(connection)
        try:
            self.RequestHandlerClass(connection, client_address, self)
        except (OSError, ssl.SSLError) as error:  # the client went away mid-request
            logger.debug("connection from %s ended: %s", client_address, error)
        finally:
            with self._open_lock:
                self._open.discard(connection)
            connection.close()

    def shutdown_request(self, request: socket.socket) -> None:
        request.close()  # the connection (a TLS socket took over the descriptor) is closed in finish_request

    def close_connections(self) -> None:
        """Ends idle keep-alive connections so their threads return when the simulator stops."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
