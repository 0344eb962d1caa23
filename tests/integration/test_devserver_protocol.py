"""The local host's HTTP layer (tools/httpserver.py) on a loopback port, driven with raw sockets.

What a client can send that http.server itself would answer (bad request lines, versions, header sizes,
Content-Length values) must get the contract's JSON error, never its HTML page or a 500; and a burst
of connections must all be answered.
"""
from __future__ import annotations

import functools
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import azure.functions as func
import pytest

from tools.devserver import plan_functions
from tools.hostconfig import HostConfig
from tools.httpserver import FunctionsHTTPServer
from tools.invocation import FunctionSpec
from tools.routing import RouteTable

HOST_LIMIT = 1024 * 1024  # the host's body cap in these tests
APP_LIMIT = 64 * 1024  # what the contract's app accepts; larger bodies still reach it

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="api/health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse('{"status": "ok"}', mimetype="application/json")


@app.route(route="api/echo", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    status = 413 if len(body) > APP_LIMIT else 200
    return func.HttpResponse(json.dumps({"method": req.method, "length": len(body)}), status_code=status,
                             mimetype="application/json")


@functools.cache
def route_table() -> RouteTable[FunctionSpec]:
    return RouteTable(plan_functions(app.get_functions(), HostConfig(route_prefix="")).routes)  # once per app


def make_server() -> FunctionsHTTPServer:
    """Listening, not yet accepting."""
    return FunctionsHTTPServer(("127.0.0.1", 0), table=route_table(), deliver=lambda spec, outcome: None,
                               max_body=HOST_LIMIT)


@pytest.fixture
def serving() -> Iterator[FunctionsHTTPServer]:
    server = make_server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, str]:
        assert self.headers["content-type"].startswith("application/json"), self.headers
        document = json.loads(self.body)
        assert set(document) == {"error"} and set(document["error"]) == {"code", "message"}
        return document["error"]


def read_answer(sock: socket.socket) -> Answer:
    """One response from a connection the server closes after it (Connection: close)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    assert status_line.startswith("HTTP/1.1 "), data[:200]
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return Answer(int(status_line.split()[1]), headers, body)


def send(server: FunctionsHTTPServer, raw: bytes) -> Answer:
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(raw)
        return read_answer(sock)


# --- connections ---------------------------------------------------------------------------------------

def test_two_hundred_connections_at_once_are_all_answered():
    server = make_server()
    clients: list[socket.socket] = []
    accepting = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    try:
        # Every connection is queued before the first is accepted: with http.server's backlog of 5,
        # the 7th connect already waits for a handshake the kernel keeps refusing to finish.
        clients += [socket.create_connection(server.server_address[:2], timeout=10) for _ in range(200)]
        accepting.start()

        def ask(sock: socket.socket) -> int:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return read_answer(sock).status

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(ask, clients))
        assert statuses == [200] * 200
    finally:
        for sock in clients:
            sock.close()
        if accepting.is_alive():
            server.shutdown()
        server.server_close()


# --- request line, version and headers -----------------------------------------------------------------

HEAD = b"\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize(("raw", "status", "code"), [
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1" + HEAD, 414, "uriTooLong"),
    (b"GET /api/health HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + HEAD, 431, "requestHeadersTooLarge"),
    (b"GET /api/health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n",
     431, "requestHeadersTooLarge"),
    (b"GET /api/health HTTP/2.0" + HEAD, 505, "httpVersionNotSupported"),
    (b"GET /api/health HTTP/9.9" + HEAD, 505, "httpVersionNotSupported"),
    (b"GET /api/health HTTX/1.1" + HEAD, 400, "invalidRequestLine"),
    (b"GET /api/health HTTP/1.1.1" + HEAD, 400, "invalidRequestLine"),
    (b"GET /api/health HTTP/one.one" + HEAD, 400, "invalidRequestLine"),
    (b"GET /api/health extra HTTP/1.1" + HEAD, 400, "invalidRequestLine"),
    (b"GET" + HEAD, 400, "invalidRequestLine"),
    (b"GET /api/health\r\n", 400, "invalidRequestLine"),  # HTTP/0.9: no version, no headers
    (b"GE(T /api/health HTTP/1.1" + HEAD, 400, "invalidRequestLine"),  # not a method token
    (b"G\xc9T /api/health HTTP/1.1" + HEAD, 400, "invalidRequestLine"),
])
def test_protocol_errors_answer_the_contracts_json_error(serving, raw, status, code):
    answer = send(serving, raw)
    assert answer.status == status
    error = answer.error()
    assert error["code"] == code
    assert error["message"].endswith(".") and "<" not in error["message"]
    assert answer.headers["connection"] == "close"


def test_a_head_request_with_a_protocol_error_gets_the_error_without_a_body(serving):
    answer = send(serving, b"HEAD /api/health HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + HEAD)
    assert (answer.status, answer.body) == (431, b"")


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    (b"get", b"/api/health", 200, None),  # ASP.NET compares methods ignoring case
    (b"M-SEARCH", b"/api/health", 405, "methodNotAllowed"),
    (b"m-search", b"/api/nothing", 404, "notFound"),
    (b"PROPFIND", b"/api/health", 405, "methodNotAllowed"),
    (b"X_1!#$%&'*+.^`|~", b"/api/health", 405, "methodNotAllowed"),  # every token character
    (b"A-VERY-LONG-EXTENSION-METHOD-NAME-INDEED", b"/api/health", 405, "methodNotAllowed"),
])
def test_any_method_token_reaches_the_routes(serving, method, path, status, code):
    answer = send(serving, method + b" " + path + b" HTTP/1.1" + HEAD)
    assert answer.status == status
    if code is None:
        assert json.loads(answer.body) == {"status": "ok"}
    else:
        assert answer.error()["code"] == code
        assert status != 405 or answer.headers["allow"] == "GET"


# --- Content-Length ------------------------------------------------------------------------------------

def post(headers: bytes, body: bytes = b"ab") -> bytes:
    return b"POST /api/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + b"\r\n" + body


@pytest.mark.parametrize("headers", [
    b"Content-Length: \xb2\r\n",  # superscript two: str.isdigit() says yes, int() raises
    b"Content-Length: -1\r\n",
    b"Content-Length: +2\r\n",
    b"Content-Length: 1e3\r\n",
    b"Content-Length: 0x2\r\n",
    b"Content-Length: 1_0\r\n",
    b"Content-Length: 2 2\r\n",
    b"Content-Length: \xa02\r\n",  # no-break space, which str.strip() would drop
    b"Content-Length: \x0b2\r\n",  # vertical tab, likewise
    b"Content-Length: \r\n",
    b"Content-Length: 2, 2\r\n",
    b"Content-Length: 2\r\nContent-Length: 5\r\n",  # which one frames the body?
    b"Content-Length: 2\r\nContent-Length: 2\r\n",
])
def test_a_content_length_that_is_not_one_run_of_ascii_digits_is_a_400(serving, headers):
    answer = send(serving, post(headers))
    assert answer.status == 400
    assert answer.error()["code"] == "invalidContentLength"


def test_an_invalid_content_length_with_expect_100_continue_is_a_400_without_continue(serving):
    with socket.create_connection(serving.server_address[:2], timeout=10) as sock:
        sock.sendall(post(b"Expect: 100-continue\r\nContent-Length: \xb2\r\n", body=b""))
        answer = read_answer(sock)
    assert answer.status == 400
    assert answer.error()["code"] == "invalidContentLength"


def test_spaces_around_the_content_length_are_not_part_of_it(serving):
    # RFC 9112 5: optional whitespace around a field value is not part of the value.
    answer = send(serving, post(b"Content-Length:  2 \t\r\n"))
    assert answer.status == 200
    assert json.loads(answer.body) == {"method": "POST", "length": 2}


def test_a_body_over_the_apps_limit_still_reaches_the_app(serving):
    body = b"x" * (APP_LIMIT + 1)
    answer = send(serving, post(b"Content-Length: %d\r\n" % len(body), body))
    assert answer.status == 413
    assert json.loads(answer.body) == {"method": "POST", "length": APP_LIMIT + 1}


@pytest.mark.parametrize("size", [b"-1", b"+2", b"0x2", b"1_0", b"\xb2", b""])
def test_a_chunk_size_that_is_not_hex_digits_is_a_400(serving, size):
    # int(size, 16) takes all but the last two; '-1' then reads until the client gives up.
    answer = send(serving, post(b"Transfer-Encoding: chunked\r\n", body=size + b"\r\nab\r\n0\r\n\r\n"))
    assert answer.status == 400
    assert answer.error()["code"] == "badRequest"


def test_a_chunked_body_with_extensions_and_trailers_is_read_in_full(serving):
    body = b"2;name=value\r\nab\r\n1 ; x\r\nc\r\n0\r\nX-Trailer: t\r\n\r\n"
    answer = send(serving, post(b"Transfer-Encoding: chunked\r\n", body=body))
    assert json.loads(answer.body) == {"method": "POST", "length": 3}
