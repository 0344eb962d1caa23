"""Stopping the local host as the Functions host stops: SIGTERM or Ctrl-C refuses new connections, lets
requests and invocations in flight finish within a grace period, then exits 0.

The sample app's gated functions stay in flight until the test opens their gate, so no test depends on
how long anything takes; each wait has a deadline.
"""
from __future__ import annotations

import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.devserver_process import LocalHost, eventually, sample_events, start_sample


def start(tmp: Path, *, env: dict[str, str] | None = None, grace: float | None = None) -> LocalHost:
    return start_sample(tmp, env or {}, args=[] if grace is None else ["--grace", str(grace)])


def open_gate(server: LocalHost, gate: str) -> None:
    (server.log_path.parent / "events" / f"{gate}.open").touch()


def refuses_new_connections(server: LocalHost) -> bool:
    """True once a new connection is refused, or answered 503."""
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"GET /api/items/1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1 503")
    except ConnectionRefusedError:
        return True
    except (ConnectionResetError, TimeoutError):
        return False  # caught between accepting and closing: ask again


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_request_in_flight_gets_its_whole_response_and_new_connections_are_refused(tmp_path, sig):
    server = start(tmp_path, grace=60)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(requests.get, server.url("/api/slow/http"), timeout=60)
            eventually(lambda: sample_events(server, "slow"), timeout=10, what="the slow request to start")
            server.process.send_signal(sig)
            eventually(lambda: refuses_new_connections(server), timeout=10, what="new connections to be refused")
            assert server.process.poll() is None, "the host exited with a request in flight"
            open_gate(server, "http")
            response = pending.result(timeout=30)
        assert response.status_code == 200
        assert response.json() == {"gate": "http", "opened": True, "padding": "x" * 100_000}
        assert response.headers["Connection"] == "close"
        assert server.process.wait(timeout=30) == 0
        eventually(lambda: "Stopped." in server.log_text(), timeout=5, what="'Stopped.'")
    finally:
        server.stop(signal.SIGKILL)


def test_a_timer_invocation_in_flight_finishes_before_the_host_exits(tmp_path):
    server = start(tmp_path, env={"SAMPLE_TIMER_GATE": "timer"}, grace=60)
    try:
        eventually(lambda: sample_events(server, "gated_on_startup"), timeout=10, what="the timer to start")
        server.process.send_signal(signal.SIGTERM)
        eventually(lambda: refuses_new_connections(server), timeout=10, what="new connections to be refused")
        assert server.process.poll() is None, "the host exited with a timer invocation in flight"
        open_gate(server, "timer")
        assert server.process.wait(timeout=30) == 0
        assert sample_events(server, "gated_on_startup")[-1] == {"phase": "finished", "opened": True}
    finally:
        server.stop(signal.SIGKILL)


def test_idle_keep_alive_connections_do_not_hold_up_the_stop(tmp_path):
    server = start(tmp_path, grace=600)
    try:
        with requests.Session() as session:
            assert session.get(server.url("/api/items/1"), timeout=10).status_code == 200  # stays open, idle
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=30) == 0  # long before the grace period or the idle timeout
    finally:
        server.stop(signal.SIGKILL)


def test_past_the_grace_period_the_host_exits_anyway(tmp_path):
    server = start(tmp_path, grace=0.5)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(requests.get, server.url("/api/slow/never"), timeout=60)
            eventually(lambda: sample_events(server, "slow"), timeout=10, what="the slow request to start")
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=30) == 0
            with pytest.raises(requests.ConnectionError):
                pending.result(timeout=30)
        eventually(lambda: "1 request(s) still in flight" in server.log_text(), timeout=5, what="the warning")
    finally:
        server.stop(signal.SIGKILL)
