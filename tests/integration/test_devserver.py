"""The local host (`python -m tools.devserver`) as a process, serving tests/support/sample_function_app.py.

HTTP goes over real sockets; queue triggers poll a real Azurite. Every wait polls with a deadline.
"""
from __future__ import annotations

import json
import re
import signal
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from tests.support.devserver_process import LocalHost, eventually, start_sample
from tests.support.devserver_process import sample_events as events

pytestmark = pytest.mark.integration


def refused_start(tmp: Path, env: dict[str, str]) -> tuple[int, str]:
    host = start_sample(tmp, env, wait=False)
    try:
        return host.process.wait(timeout=60), host.log_text()
    finally:
        host.stop(signal.SIGKILL)  # when it started after all


@pytest.fixture(scope="module")
def queues(azurite) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    names = {"SAMPLE_QUEUE": f"consume-{suffix}", "SAMPLE_FAIL_QUEUE": f"fails-{suffix}"}
    for name in names.values():  # the app creates its queues; the host only polls them
        QueueClient.from_connection_string(azurite.connection_string, name).create_queue()
    return names


@pytest.fixture(scope="module")
def server(azurite, queues, tmp_path_factory) -> LocalHost:
    running = start_sample(
        tmp_path_factory.mktemp("devserver"),
        {"SAMPLE_STORAGE": azurite.connection_string, "SAMPLE_PRESET": "from-env", **queues,
         "AzureWebJobs.consume.Disabled": "false", "AzureWebJobs.always_fails.Disabled": "false"},
        settings={"SAMPLE_TICK_SCHEDULE": "* * * * * *", "SAMPLE_PRESET": "from-file", "SAMPLE_FROM_FILE": "from-file"},
        args=["--max-body-mb", "1"],
    )
    yield running
    running.stop()


def queue(azurite, name: str, *, base64_text: bool = True) -> QueueClient:
    policies = ({"message_encode_policy": TextBase64EncodePolicy(),
                 "message_decode_policy": TextBase64DecodePolicy()} if base64_text else {})
    return QueueClient.from_connection_string(azurite.connection_string, name, **policies)


def peek_all(client: QueueClient) -> list[Any]:
    try:
        return list(client.peek_messages(max_messages=32))
    except ResourceNotFoundError:  # not created yet
        return []


def raw_exchange(host: LocalHost, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send raw bytes; the status line, headers and body of an answer after which the server closes."""
    address = host.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((address[0], int(address[1])), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}, body


# --- start-up ----------------------------------------------------------------------------------------

def test_banner_lists_each_function_with_its_route_or_trigger(server, queues):
    port = server.base_url.rsplit(":", 1)[1]
    out = server.log_text()
    assert f"echo: [GET,POST,PUT] http://127.0.0.1:{port}/api/echo/{{name}}" in out
    assert f"order_literal: [GET,POST] http://127.0.0.1:{port}/api/order/first" in out
    assert "tick: timerTrigger (%SAMPLE_TICK_SCHEDULE% = * * * * * *)" in out
    assert f"consume: queueTrigger ({queues['SAMPLE_QUEUE']})" in out


def test_local_settings_fill_unset_variables_without_overriding_the_environment(server):
    preset = requests.get(server.url("/api/settings/SAMPLE_PRESET"), timeout=10).json()
    from_file = requests.get(server.url("/api/settings/SAMPLE_FROM_FILE"), timeout=10).json()
    assert preset["value"] == "from-env"
    assert from_file["value"] == "from-file"


def test_configuration_error_from_the_startup_check_exits_with_status_2(tmp_path):
    status, log = refused_start(tmp_path, {"SAMPLE_STARTUP_ERROR": "KEY_VAULT_URL must be set outside local."})
    assert status == 2
    assert "Cannot start: KEY_VAULT_URL must be set outside local." in log
    assert "Listening on" not in log


@pytest.mark.parametrize(("schedule", "reason"), [
    ("00:00:30", "The schedule '00:00:30' is a TimeSpan, which Azure Functions runs on App Service plans only"),
    ("1.00:00:00", "is a TimeSpan"),
    ("*/5 * * * *", "The schedule '*/5 * * * *' is not NCRONTAB: it needs 6 fields"),  # Vixie cron's 5 fields
])
def test_a_schedule_the_flex_consumption_host_refuses_stops_the_start(tmp_path, schedule, reason):
    status, log = refused_start(tmp_path, {"SAMPLE_TICK_SCHEDULE": schedule})
    assert status == 2
    assert "Cannot start: Function 'tick':" in log and reason in log
    assert "Listening on" not in log


def test_a_missing_setting_in_a_binding_stops_the_start(tmp_path):
    status, log = refused_start(tmp_path, {"AzureWebJobs.consume.Disabled": "false"})
    assert status == 2
    assert "Cannot start: Function 'consume': The app setting 'SAMPLE_QUEUE' (used as '%SAMPLE_QUEUE%')" in log


@pytest.mark.parametrize("extra", ["admin/tools GET", "Runtime/status GET", "administration GET",
                                   "api/echo/{name} PATCH,PUT", "API/ECHO/{name}/ GET", "api/echo/{name}"])
def test_a_route_the_host_refuses_stops_the_start_with_its_reason(tmp_path, extra):
    status, log = refused_start(tmp_path, {"SAMPLE_EXTRA_ROUTE": extra})
    assert status == 2
    assert "Listening on" not in log
    if extra.lower().startswith(("admin", "runtime")):
        assert "Cannot start: Function 'extra': the route" in log and "conflicts with the host's built-in routes" in log
    else:
        assert "conflicts with the route of function 'echo' (same template, a method in common)" in log


def test_the_same_route_with_other_methods_is_another_function(tmp_path):
    host = start_sample(tmp_path, {"SAMPLE_EXTRA_ROUTE": "api/echo/{name} PATCH,DELETE"})
    try:
        assert requests.patch(host.url("/api/echo/x"), timeout=10).json() == {"handler": "extra"}
        assert requests.get(host.url("/api/echo/x"), timeout=10).json()["method"] == "GET"
    finally:
        host.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_cleanly(tmp_path, sig):
    running = start_sample(tmp_path, {})
    assert requests.get(running.url("/api/settings/SAMPLE_TICK_SCHEDULE"), timeout=10).status_code == 200
    assert running.stop(sig) == 0
    assert "Stopped." in running.log_text()


# --- HTTP --------------------------------------------------------------------------------------------

def test_request_reaches_the_function_with_method_url_headers_query_route_and_body(server):
    response = requests.post(
        server.url("/api/echo/Alice?x=1&x=2&status=201"),
        data=b"hello body", headers={"X-Sample-One": "v1", "Content-Type": "text/plain"}, timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["X-Echo"] == "Alice"
    assert response.headers["Content-Type"] == "application/json"
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["url"] == server.url("/api/echo/Alice?x=1&x=2&status=201")
    assert echoed["params"] == {"x": "1,2", "status": "201"}  # repeated keys joined, as the host does
    assert echoed["routeParams"] == {"name": "Alice"}
    assert echoed["headers"] == {"x-sample-one": "v1"}
    assert echoed["body"] == "hello body"


def test_query_parameters_whose_value_is_empty_are_dropped(server):
    echoed = requests.get(server.url("/api/echo/q?top=&status=&kept=1&also="), timeout=10).json()
    assert echoed["params"] == {"kept": "1"}
    assert echoed["url"].endswith("?top=&status=&kept=1&also=")  # the URL stays as sent


def test_a_chunked_body_is_not_read_as_the_host_reads_none_without_content_length(server):
    chunks = (part.encode() for part in ["first,", "second,", "third"])
    response = requests.put(server.url("/api/echo/chunks"), data=chunks, timeout=10)
    assert response.status_code == 200
    assert response.json()["body"] == ""
    assert response.headers["Connection"] == "close"  # its body was left unread


def test_routes_match_in_registration_order(server):
    # api/order/{name} is registered before api/order/first: it takes GET /api/order/first.
    assert requests.get(server.url("/api/order/first"), timeout=10).json() == {
        "handler": "order_parameter", "name": "first"}
    # The first route does not take POST, so the next one that matches does.
    assert requests.post(server.url("/API/Order/First"), timeout=10).json() == {"handler": "order_literal"}


@pytest.mark.parametrize(("method", "path"), [
    ("PATCH", "/api/echo/x"),  # the route exists for GET, POST and PUT
    ("DELETE", "/api/items/3"),
    ("QUERY", "/api/echo/x"),  # a method http.server has no handler for
    ("GET", "/api/nothing/here"),
    ("GET", "/api/short/four"),  # longer than {code:maxlength(3)}
    ("GET", "/api/items/"),  # an empty parameter
])
def test_a_wrong_method_or_an_unknown_route_is_an_empty_404(server, method, path):
    response = requests.request(method, server.url(path), timeout=10)
    assert response.status_code == 404
    assert response.content == b"" and "Content-Type" not in response.headers


def test_route_parameters_are_decoded_segment_by_segment_and_may_be_optional(server):
    assert requests.get(server.url("/api/items/caf%C3%A9"), timeout=10).json() == {"id": "caf\u00e9"}
    assert requests.get(server.url("/api/items/a%2Fb"), timeout=10).json() == {"id": "a%2Fb"}  # as Kestrel
    assert requests.get(server.url("/api/short/abc"), timeout=10).json() == {"code": "abc"}
    assert requests.get(server.url("/api/short"), timeout=10).json() == {"code": None}


def test_response_mimetype_charset_and_headers_are_passed_through(server):
    response = requests.get(server.url("/api/page"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content == "<p>caf\u00e9</p>".encode()


def test_no_content_response_keeps_the_connection_usable(server):
    with requests.Session() as session:
        deleted = session.delete(server.url("/api/things/7"), timeout=10)
        assert deleted.status_code == 204
        assert deleted.content == b""
        assert session.get(server.url("/api/items/3"), timeout=10).json() == {"id": "3"}


def test_raising_function_answers_an_empty_500_and_logs_the_trace(server):
    response = requests.get(server.url("/api/boom"), timeout=10)
    assert response.status_code == 500
    assert response.content == b""
    eventually(lambda: "RuntimeError: sample failure with internal detail 7f3a" in server.log_text(),
               timeout=5, what="the trace in the log")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhost@evil.example",
                                  "10.0.0.1", "[::2]", "localhost:http", ""])
def test_a_host_name_that_is_not_loopback_answers_400_with_a_plain_reason(server, host):
    status, headers, body = raw_exchange(server, f"PUT /api/echo/x HTTP/1.1\r\nHost: {host}\r\n"
                                                 "Content-Length: 2\r\n\r\n{}".encode())
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body.startswith(b"Bad Request - Invalid Hostname: this local host answers only localhost")


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:7071", "127.0.0.1", "127.45.6.7:80", "[::1]", "[::1]:7071"])
def test_loopback_host_names_are_served_with_or_without_a_port(server, host):
    status, _, body = raw_exchange(server, f"GET /api/items/1 HTTP/1.1\r\nHost: {host}\r\n"
                                           "Connection: close\r\n\r\n".encode())
    assert status == "HTTP/1.1 200 OK" and json.loads(body) == {"id": "1"}


@pytest.mark.parametrize("framing", ["Content-Length: +2", "Content-Length: 2\r\nContent-Length: 2",
                                     "Content-Length: 0x2", "Content-Length: \xb2"])
def test_a_content_length_that_is_not_one_number_is_an_empty_400(server, framing):
    status, _, body = raw_exchange(server, f"POST /api/echo/x HTTP/1.1\r\nHost: localhost\r\n{framing}\r\n"
                                           "\r\nab".encode("latin-1"))
    assert status == "HTTP/1.1 400 Bad Request" and body == b""


@pytest.mark.parametrize("request_line", ["GET /api/items/1", "GET /api/items/1 HTTP/9.9", "GET"])
def test_a_request_line_the_server_cannot_read_is_an_empty_error(server, request_line):
    status, headers, body = raw_exchange(server, f"{request_line}\r\nHost: localhost\r\n\r\n".encode())
    assert re.fullmatch(r"HTTP/1\.1 (400|505) .+", status) and body == b""
    assert headers["connection"] == "close"


def test_body_over_the_limit_is_refused_with_413_before_it_is_read(server):
    status, _, body = raw_exchange(server, b"POST /api/echo/big HTTP/1.1\r\nHost: localhost\r\n"
                                           b"Content-Length: 2097152\r\n\r\n")  # the cap is 1 MiB; no body follows
    assert status.startswith("HTTP/1.1 413 ") and body == b""


def test_each_request_is_one_stdout_line_without_query_string_headers_or_body(server):
    response = requests.get(
        server.url("/authenticate/OAuth2Callback?code=SECRET-CODE-123&state=abc"),
        headers={"x-functions-key": "KEY-SECRET-9"}, timeout=10,
    )
    assert response.status_code == 200 and response.text == "code received: True"
    requests.post(server.url("/api/echo/logged"), data=b"BODY-SECRET-5", timeout=10)
    eventually(lambda: re.search(r"^GET /authenticate/OAuth2Callback 200 \d+\.\d ms$", server.log_text(), re.M),
               timeout=5, what="the callback's access line")
    eventually(lambda: re.search(r"^POST /api/echo/logged 200 \d+\.\d ms$", server.log_text(), re.M),
               timeout=5, what="the echo's access line")
    for secret in ("SECRET-CODE-123", "KEY-SECRET-9", "BODY-SECRET-5", "state=abc"):
        assert secret not in server.log_text()


# --- timers ------------------------------------------------------------------------------------------

def test_timer_fires_on_an_every_second_schedule_from_a_setting(server):
    ticks = eventually(lambda: events(server, "tick") if len(events(server, "tick")) >= 2 else None,
                       timeout=15, what="two ticks")
    assert all(t["type"] == "TimerRequest" and t["pastDue"] is False for t in ticks)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t["next"]) for t in ticks)


def test_run_on_startup_runs_a_timer_once_at_start(server):
    runs = eventually(lambda: events(server, "yearly_on_startup"), timeout=10, what="the start-up run")
    assert runs == [{"pastDue": False}]


def test_failing_timer_is_logged_and_keeps_its_schedule(server):
    eventually(lambda: len(events(server, "tick_fails")) >= 2, timeout=15, what="a second run after a failure")
    assert "RuntimeError: timer failure: the schedule must go on" in server.log_text()


# --- queues ------------------------------------------------------------------------------------------

def test_queue_message_is_consumed_and_deleted(server, azurite, queues):
    inbox = queue(azurite, queues["SAMPLE_QUEUE"])
    text = f"hello queue {uuid.uuid4().hex[:6]}"
    sent = inbox.send_message(text)
    event = eventually(lambda: next((e for e in events(server, "consume") if e["body"] == text), None),
                       timeout=30, what="the queue function to run")
    assert event["id"] == sent.id
    assert event["dequeueCount"] == 1
    assert event["inserted"] and event["expires"] and event["popReceipt"]
    eventually(lambda: inbox.get_queue_properties().approximate_message_count == 0, timeout=10,
               what="the message to be deleted")


def test_message_that_is_not_base64_goes_to_poison_without_running_the_function(server, azurite, queues):
    name = queues["SAMPLE_QUEUE"]
    queue(azurite, name, base64_text=False).send_message("plain text, not base64!")
    poison = queue(azurite, f"{name}-poison", base64_text=False)
    eventually(lambda: "plain text, not base64!" in [m.content for m in peek_all(poison)], timeout=30,
               what="the message in the poison queue")
    assert all(e["body"] != "plain text, not base64!" for e in events(server, "consume"))


def test_failing_queue_message_is_retried_at_once_and_moves_to_poison_after_five_dequeues(server, azurite, queues):
    name = queues["SAMPLE_FAIL_QUEUE"]
    inbox = queue(azurite, name)
    sent = inbox.send_message("doomed")
    poison = queue(azurite, f"{name}-poison")
    landed = eventually(lambda: [m for m in peek_all(poison) if m.content == "doomed"], timeout=60,
                        what="the message in the poison queue")
    assert len(landed) == 1
    assert [e["dequeueCount"] for e in events(server, "always_fails") if e["id"] == sent.id] == [1, 2, 3, 4, 5]
    eventually(lambda: inbox.get_queue_properties().approximate_message_count == 0, timeout=10,
               what="the original to be deleted")
