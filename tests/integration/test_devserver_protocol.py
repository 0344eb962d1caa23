"""The local host's HTTP server (tools/httpserver.py) in this process, on a loopback port: a burst of connections is
queued and answered, and keep-alive connections carry one request after another."""
from __future__ import annotations

import functools
import http.client
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import azure.functions as func
import pytest

from tools.devserver import plan_functions
from tools.hostconfig import HostConfig
from tools.httpserver import LocalHTTPServer, is_loopback_host
from tools.routing import RouteTable

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="api/health", methods=["GET"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse('{"status": "ok"}', mimetype="application/json")


@functools.cache
def routes() -> RouteTable:
    return plan_functions(app.get_functions(), HostConfig(route_prefix="")).routes  # once per app


def test_two_hundred_connections_at_once_are_all_answered():
    server = LocalHTTPServer(("127.0.0.1", 0), routes=routes())
    clients: list[socket.socket] = []
    accepting = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    try:
        # Every connection is queued before the first is accepted: with http.server's backlog of 5,
        # the 7th connect already waits for a handshake the kernel keeps refusing to finish.
        clients += [socket.create_connection(server.server_address[:2], timeout=10) for _ in range(200)]
        accepting.start()

        def ask(sock: socket.socket) -> bytes:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return sock.recv(12)

        with ThreadPoolExecutor(max_workers=50) as pool:
            assert list(pool.map(ask, clients)) == [b"HTTP/1.1 200"] * 200
    finally:
        for sock in clients:
            sock.close()
        if accepting.is_alive():
            server.shutdown()
        server.server_close()


def test_a_kept_alive_connection_carries_one_request_after_another():
    server = LocalHTTPServer(("127.0.0.1", 0), routes=routes())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    try:
        sockets = []
        for _ in range(3):
            connection.request("GET", "/api/health")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b'{"status": "ok"}')
            assert response.getheader("Connection") is None
            sockets.append(connection.sock)
        assert sockets[0] is not None and sockets == [sockets[0]] * 3  # the same socket throughout
    finally:
        connection.close()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("host", "served"), [
    ("localhost", True), ("LocalHost:7071", True), ("127.0.0.1", True), ("127.255.0.9:1", True), ("[::1]", True),
    ("[::1]:80", True), (None, False), ("", False), ("example.com", False), ("localhost.example.com", False),
    ("127.0.0.1.nip.io", False), ("[::ffff:7f00:1]x", False), ("0.0.0.0", False), ("192.168.0.1:80", False),
    ("localhost:99999", False), ("localhost:port", False), ("user@localhost", False), ("localhost/x", False),
])
def test_only_loopback_host_names_are_served(host, served):
    assert is_loopback_host(host) is served
