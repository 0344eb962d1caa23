"""The local host's HTTP side on the standard library's threaded server: each request to its function, as the
Functions host hands it over (the body only when Content-Length > 0; query parameters without a value dropped).

Only loopback `Host` names are served (400 otherwise, against DNS rebinding). What no route takes with its method
answers an empty 404; a failing function an empty 500, its trace in the log. Each request is one line on stdout
(method, path, status, time), never the query string, headers or body, which may carry secrets.
"""
from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from tools.routing import RouteTable

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 100 * 1024 * 1024  # the Functions host's request size limit
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_INVALID_HOST = b"Bad Request - Invalid Hostname: this local host answers only localhost, 127.0.0.0/8 and [::1].\n"


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def reply_from(response: func.HttpResponse) -> Reply:
    """A function's HttpResponse as the Python worker hands it to the host: its mimetype becomes Content-Type."""
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP_BY_HOP]
    if not any(k.lower() == "content-type" for k, _ in headers):
        mimetype = response.mimetype
        headers.append(("Content-Type", f"{mimetype}; charset={response.charset}" if mimetype.startswith("text/")
                        else mimetype))
    return Reply(response.status_code, headers, response.get_body() or b"")


def is_loopback_host(host: str | None) -> bool:
    """Whether a Host header names this machine: localhost, 127.0.0.0/8 or [::1], with or without a port."""
    if not host or any(c in host for c in "/?#@\\ "):
        return False
    try:
        parts = urlsplit(f"//{host}")
        parts.port  # noqa: B018  (raises ValueError for a port that is no number)
        return parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return False


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    # The host hands repeated query keys and headers to the worker joined by commas.
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


class LocalHTTPServer(ThreadingHTTPServer):
    """One thread per connection, keep-alive; `drain()` stops as the Functions host does."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # the listen backlog: a burst of connections (the page, a benchmark) is queued

    def __init__(self, address: tuple[str, int], *, routes: RouteTable, max_body: int = MAX_BODY_BYTES) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.routes, self.max_body = routes, max_body
        self.stopping = False
        self._state = threading.Condition()
        self._connections: dict[socket.socket, bool] = {}  # open connection -> serving a request

    def track(self, connection: socket.socket, busy: bool | None) -> bool:
        """Mark a connection waiting for a request (False), serving one (True) or closed (None). False when a stop
        refuses it: no waiting once stopping, and no request on a connection the stop closed."""
        with self._state:
            if busy is None:
                self._connections.pop(connection, None)
            elif busy and self._connections.get(connection) is not False:
                return False  # the stop closed it while it waited
            elif not busy and self.stopping:
                return False
            else:
                self._connections[connection] = busy
            self._state.notify_all()
            return True

    def drain(self, *, deadline: float) -> int:
        """Refuse new connections, close idle ones and wait until `deadline` (time.monotonic()) for the requests
        in flight, which answer with Connection: close; how many are still in flight."""
        with self._state:
            self.stopping = True
            for connection in [c for c, busy in self._connections.items() if not busy]:
                del self._connections[connection]
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)  # wakes its thread, waiting for the next request
        self.shutdown()
        self.server_close()
        with self._state:
            self._state.wait_for(lambda: not any(self._connections.values()), max(0.0, deadline - time.monotonic()))
            return sum(self._connections.values())

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("A connection from %s ended early.", client_address[0], exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 130  # seconds an idle keep-alive connection may hold its thread (Kestrel's keep-alive time-out)
    server: LocalHTTPServer
    _unread_body = False  # the connection closes with a body the client may still be sending

    def version_string(self) -> str:
        return "tools.devserver"

    def handle_one_request(self) -> None:
        if not self.server.track(self.connection, busy=False):
            self.close_connection = True
            return
        self.command, self.path, self._began = "", "", time.perf_counter()  # nothing of the previous request
        super().handle_one_request()

    def parse_request(self) -> bool:
        self._began = time.perf_counter()
        if not self.server.track(self.connection, busy=True):
            self.close_connection = True
            return False  # a stop closed this idle connection just as the request arrived
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(400)  # a request line without a version: Kestrel refuses it too
            return False
        return True

    def finish(self) -> None:
        self.server.track(self.connection, busy=None)
        super().finish()
        if self._unread_body:  # read what still comes before closing, or the close would reset the answer
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)
                self.connection.settimeout(2)
                while self.connection.recv(65536):
                    pass

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method it has no do_X for with a 501 page; the host routes every method.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the server itself refuses (request line, headers) gets an empty answer, as Kestrel's."""
        if self.request_version == "HTTP/0.9":  # http.server's guess before it read a version
            self.request_version = "HTTP/1.1"
        self.close_connection = True
        self._send(Reply(int(code), [], b""))

    def log_message(self, format: str, *args: Any) -> None:
        pass  # http.server would log the request line, query string included; _send logs its own line

    def _dispatch(self) -> None:
        try:
            reply = self._serve()
        except Exception:
            logger.exception("The request %s %s failed.", self.command, urlsplit(self.path).path)
            reply = Reply(500, [], b"")
        self._send(reply)

    def _serve(self) -> Reply:
        wanted_close = self.close_connection  # the client's own wish (Connection: close, HTTP/1.0)
        self._unread_body = self.close_connection = True  # until its body is read
        if not is_loopback_host(self.headers.get("Host")):
            return Reply(400, [("Content-Type", "text/plain; charset=utf-8")], _INVALID_HOST)
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1 or lengths and not re.fullmatch(r"[0-9]+", lengths[0].strip(" \t")):
            return Reply(400, [], b"")
        chunked = "Transfer-Encoding" in self.headers  # the host reads no body without a Content-Length
        length = int(lengths[0]) if lengths and not chunked else 0
        if length > self.server.max_body:
            return Reply(413, [], b"")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            return Reply(400, [], b"")
        self._unread_body, self.close_connection = chunked, chunked or wanted_close
        target = urlsplit(self.path)
        matched = self.server.routes.resolve(self.command, target.path)
        if matched is None:
            return Reply(404, [], b"")
        request = func.HttpRequest(
            method=self.command,
            url=f"http://{self.headers['Host']}{target.path}" + (f"?{target.query}" if target.query else ""),
            headers=_joined(list(self.headers.items())),
            params={k: v for k, v in _joined(parse_qsl(target.query, keep_blank_values=True)).items() if v},
            route_params=dict(matched.values), body=body,
        )
        return reply_from(matched.route.target(request))

    def _send(self, reply: Reply) -> None:
        bodiless = reply.status in (204, 304)
        if self.server.stopping:
            self.close_connection = True
        try:
            self.send_response(reply.status)
            for key, value in reply.headers:
                self.send_header(key, value)
            if not bodiless:
                self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and not bodiless:
                self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True  # the client went away
        path = "".join(c if c.isprintable() and c != " " else f"%{ord(c):02X}" for c in urlsplit(self.path).path)
        elapsed_ms = (time.perf_counter() - self._began) * 1000
        sys.stdout.write(f"{self.command or '-'} {path[:300] or '-'} {reply.status} {elapsed_ms:.1f} ms\n")  # one write
