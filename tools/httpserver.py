"""The HTTP side of the local host: one thread per connection, HTTP/1.1, every HTTP-triggered function.

Like `func start`, function keys are not checked. Bodies are read in full (Content-Length or chunked)
up to a cap, as the host's request size limit does. Each request is logged as one line on stdout —
method, path without its query string, status, duration — never headers, bodies or query values,
which may carry secrets (the OAuth callback's `code`, function keys). On a stop, `drain()` refuses new
connections, closes idle ones and lets the requests in flight finish (see tools/lifecycle.py).
"""
from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from tools.connections import ConnectionTracker
from tools.httpwire import (
    METHOD_TOKEN,
    BodyTooLarge,
    InvalidContentLength,
    MalformedBody,
    Reply,
    declared_length,
    error_reply,
    protocol_error,
    read_body,
    reason,
    reply_from,
)
from tools.invocation import HTTP_OUT, FunctionSpec, Outcome, invoke
from tools.routing import Matched, MethodNotAllowed, Route, RouteTable

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 100 * 1024 * 1024  # the Functions host's default maxRequestBodySize (100 MiB)

Deliver = Callable[[FunctionSpec, Outcome], None]


def _join(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    # ASP.NET hands repeated headers and query keys to the worker joined by commas.
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _printable(path: str, limit: int = 300) -> str:
    text = "".join(c if c.isprintable() and c != " " else f"%{ord(c):02X}" for c in path)
    return text if len(text) <= limit else text[:limit] + "..."


class FunctionsHTTPServer(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of connections (a page's parallel fetches, a load
    # test) overflowed it and saw resets. The kernel caps this at net.core.somaxconn.
    request_queue_size = 1024
    daemon_threads = True
    block_on_close = False  # drain() waits for requests in flight; past its deadline nothing more is owed

    def __init__(self, address: tuple[str, int], *, table: RouteTable[FunctionSpec], deliver: Deliver,
                 max_body: int = MAX_BODY_BYTES) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.table = table
        self.deliver = deliver
        self.max_body = max_body
        self.connections = ConnectionTracker()
        self._print_lock = threading.Lock()
        self._accepting: threading.Thread | None = None
        super().__init__(address, _Handler)

    def access_log(self, line: str) -> None:
        with self._print_lock:
            print(line, file=sys.stdout, flush=True)

    def serve_in_thread(self) -> None:
        self._accepting = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                           name="http-accept", daemon=True)
        self._accepting.start()

    def drain(self, *, deadline: float) -> int:
        """Refuse new connections, close idle ones, and wait until `deadline` (time.monotonic()) for the
        requests in flight; returns how many are still in flight."""
        self.connections.start_draining()
        if self._accepting is not None and self._accepting.is_alive():
            self.shutdown()  # ends serve_forever, which must run on another thread
        self.server_close()  # closes the listener: new connections are refused
        return self.connections.wait_closed(deadline=deadline)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.connections.opened(request):
            self.shutdown_request(request)  # accepted while a stop began
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            self.connections.closed(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # the client went away, or a stop closed its connection
            logger.debug("Connection from %s ended early.", client_address[0])
        else:
            logger.exception("The devserver failed on a connection from %s.", client_address[0])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tools.devserver"
    timeout = 120  # seconds an idle keep-alive connection (or a stalled body) may hold a thread
    server: FunctionsHTTPServer

    def version_string(self) -> str:
        return self.server_version

    # http.server logs the request line, query string included: this host logs its own line instead.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("HTTP protocol message from %s (details withheld: may quote the query).",
                  self.client_address[0])

    def handle_one_request(self) -> None:
        # What the previous request on this connection left must not show in this one's answer or log line.
        self.command, self.path, self.request_version, self._started = "", "", self.protocol_version, None
        super().handle_one_request()
        if not self.server.connections.idle(self.connection):
            self.close_connection = True  # stopping: no next request on this connection

    def parse_request(self) -> bool:
        self._started = time.perf_counter()
        if not self.server.connections.busy(self.connection):
            return False  # a stop closed this idle connection just as the request arrived
        words = self.raw_requestline.decode("iso-8859-1").split()
        # http.server takes 'GET /' for HTTP/0.9 (answered without status line or headers) and answers a
        # method that is no token with a 501; Kestrel refuses both as a bad request line.
        if len(words) == 2 or (len(words) == 3 and not METHOD_TOKEN.fullmatch(words[0])):
            self.send_error(HTTPStatus.BAD_REQUEST)
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (request line, version, header size) as the contract's JSON."""
        if self.request_version == "HTTP/0.9":
            # http.server's guess until it has read a version; it would write no status line or headers.
            self.request_version = "HTTP/1.1"
        self.close_connection = True
        self._finish(protocol_error(int(code)))

    def handle_expect_100(self) -> bool:
        # Refuse a bad or too large body before the client sends it.
        try:
            length = declared_length(self.headers.get_all("Content-Length"))
        except InvalidContentLength as exc:
            refusal = error_reply(400, "invalidContentLength", str(exc))
        else:
            if length is None or length <= self.server.max_body:
                return super().handle_expect_100()
            refusal = self._too_large()
        self.close_connection = True
        self._finish(refusal)
        return False

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method it has no do_X for with an HTML 501; every method token (QUERY,
        # M-SEARCH, lower-case get...) is routed instead, to a function or the host's JSON 404/405.
        if name.startswith("do_") and METHOD_TOKEN.fullmatch(name[3:]):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        try:
            reply = self._serve()
        except Exception:  # a defect of this host, not of the app: still a JSON 500 without a trace
            logger.exception("The devserver failed to handle %s %s.", self.command, self._log_path())
            reply = error_reply(500, "internalError", "The local host failed to handle the request.")
        self._finish(reply)

    def _serve(self) -> Reply:
        try:
            body = read_body(self.rfile, self.headers, max_body=self.server.max_body)
        except BodyTooLarge:
            self.close_connection = True  # the rest of the body is never read
            return self._too_large()
        except InvalidContentLength as exc:
            self.close_connection = True  # where this body ends is anyone's guess
            return error_reply(400, "invalidContentLength", str(exc))
        except MalformedBody as exc:
            self.close_connection = True
            return error_reply(400, "badRequest", str(exc))
        target = urlsplit(self.path)
        resolved = self.server.table.resolve(self.command, target.path)
        if resolved is None:
            return error_reply(404, "notFound", f"No function answers {target.path or '/'}.")
        if isinstance(resolved, MethodNotAllowed):
            return error_reply(405, "methodNotAllowed",
                               f"{self.command} is not allowed here; use {', '.join(resolved.allowed)}.",
                               [("Allow", ", ".join(resolved.allowed))])
        return self._invoke(resolved, target.path, target.query, body)

    def _invoke(self, matched: Matched[FunctionSpec], path: str, query: str, body: bytes) -> Reply:
        spec = matched.route.target
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = func.HttpRequest(
            method=self.command,
            url=f"http://{host}{path}" + (f"?{query}" if query else ""),
            headers=_join(self.headers.items()),
            params=_join(parse_qsl(query, keep_blank_values=True)),
            route_params=dict(matched.values),
            body=body,
        )
        try:
            outcome = invoke(spec, request)
            http_out = next((b for b in spec.outputs if b["type"] == HTTP_OUT), None)
            reply = reply_from(outcome.value_for(http_out) if http_out else None)
            self.server.deliver(spec, outcome)
            return reply
        except Exception:
            # The trace goes to the operator's console; the client learns only that it failed.
            logger.exception("Function '%s' failed (%s %s).", spec.name, self.command, self._log_path())
            return error_reply(500, "internalError",
                               f"The function '{spec.name}' failed; see the host's log.")

    def _too_large(self) -> Reply:
        limit = self.server.max_body // (1024 * 1024)
        return error_reply(413, "payloadTooLarge", f"The request body is larger than {limit} MiB.")

    def _finish(self, reply: Reply) -> None:
        if self.server.connections.draining:
            self.close_connection = True
        try:
            bodiless = reply.status in (204, 304) or reply.status < 200
            self.send_response(reply.status, reason(reply.status))
            for key, value in reply.headers:
                self.send_header(key, value)
            if not bodiless:
                self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and not bodiless:
                self.wfile.write(reply.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        now = time.perf_counter()
        elapsed_ms = (now - (self._started or now)) * 1000
        method = _printable(self.command, limit=40) if self.command else "-"
        self.server.access_log(f"{method} {self._log_path()} {reply.status} {elapsed_ms:.1f} ms")

    def _log_path(self) -> str:
        return _printable(urlsplit(self.path).path or "/") if self.path else "-"


def describe_routes(routes: Iterable[Route[FunctionSpec]], base_url: str) -> Mapping[str, str]:
    """`name -> [METHODS] url` lines for the start-up banner, as `func start` prints them."""
    lines = {}
    for route in routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "ANY"
        lines[route.target.name] = f"[{methods}] {base_url}/{route.template.lstrip('/')}"
    return lines
