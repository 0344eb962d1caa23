"""The HTTPS transport: a threaded server on loopback whose TLS handshake runs in each connection's own thread.

One thread per connection (HTTP/1.1 keep-alive), a listen backlog of 512, and no lock held while a request
waits (latency, hang), so N requests in flight wait concurrently. A scripted Reset closes the connection with
SO_LINGER 0 (the client sees a TCP RST); a Hang holds it until its time is up or the server stops.
"""
from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import weakref
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from requests.structures import CaseInsensitiveDict

from tools.identity_sim.replies import Reply

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
IDLE_CONNECTION_SECONDS = 120.0
HANDSHAKE_SECONDS = 10.0


class Exchange:
    """One request as the application layer sees it; `handle` gets one and calls exactly one of its endings."""

    def __init__(self, handler: _Handler, method: str, body: bytes) -> None:
        self._handler, self.method, self.body = handler, method, body
        self.target = handler.path
        self.headers: Mapping[str, str] = CaseInsensitiveDict(handler.headers.items())  # as HTTP compares names

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
        """No answer: the connection is closed normally (a hang that ended with the server)."""
        self._handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "identity-sim"
    sys_version = ""
    timeout = IDLE_CONNECTION_SECONDS
    server: TlsThreadingServer

    def do_GET(self) -> None:
        self._exchange("GET")

    def do_POST(self) -> None:
        self._exchange("POST")

    def do_HEAD(self) -> None:
        self._exchange("HEAD")

    def _exchange(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        self.server.handle(Exchange(self, method, body))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the simulator logs each request itself, without query strings


class TlsThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen backlog: a burst of concurrent connections is queued, not refused

    def __init__(
        self, address: tuple[str, int], *, context: ssl.SSLContext, handle: Callable[[Exchange], None],
    ) -> None:
        super().__init__(address, _Handler)
        self._context, self.handle = context, handle
        self.stopping = threading.Event()
        self._open: weakref.WeakSet[ssl.SSLSocket] = weakref.WeakSet()
        self._open_lock = threading.Lock()

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        # Runs in the connection's thread, so a slow handshake holds only this connection.
        request.settimeout(HANDSHAKE_SECONDS)
        # Headers and body leave in separate writes; without NODELAY, Nagle + delayed ACK add ~40 ms to each.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self._context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as error:
            logger.debug("TLS handshake with %s failed: %s", client_address, error)
            request.close()
            return
        with self._open_lock:
            self._open.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError) as error:  # the client went away mid-request
            logger.debug("connection from %s ended: %s", client_address, error)
        finally:
            with self._open_lock:
                self._open.discard(tls)
            tls.close()

    def shutdown_request(self, request: socket.socket) -> None:
        request.close()  # the TLS socket took over the descriptor and is closed in finish_request

    def close_connections(self) -> None:
        """Ends idle keep-alive connections so their threads return when the simulator stops."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
