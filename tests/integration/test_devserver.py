"""The local host (`python -m tools.devserver`) as a subprocess, serving tests/support/sample_function_app.py.

HTTP goes over real sockets; queue triggers poll a real Azurite. Every wait polls with a deadline.
"""
from __future__ import annotations

import base64
import json
import re
import signal
import socket
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from tests.support.devserver_process import DevServer, eventually, launch, wait_listening
from tools.queues import decode_body, encode_body, queue_client
from tools.scheduling import parse_schedule

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def queues(azurite) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return {"SAMPLE_QUEUE": f"consume-{suffix}", "SAMPLE_FAIL_QUEUE": f"fails-{suffix}"}


@pytest.fixture(scope="module")
def server(azurite, queues, tmp_path_factory) -> DevServer:
    tmp = tmp_path_factory.mktemp("devserver")
    running = wait_listening(launch(
        tmp,
        env={"SAMPLE_STORAGE": azurite.connection_string, "SAMPLE_PRESET": "from-env", **queues},
        settings={
            "SAMPLE_TICK_SCHEDULE": "* * * * * *",  # every second, resolved from this file
            "SAMPLE_PRESET": "from-file",
            "SAMPLE_FROM_FILE": "from-file",
        },
        args=["--queue-retry-seconds", "0", "--max-body-mb", "1"],
    ))
    yield running
    running.stop()


def queue(azurite, name: str, *, base64_text: bool = True) -> QueueClient:
    policies = ({"message_encode_policy": TextBase64EncodePolicy(),
                 "message_decode_policy": TextBase64DecodePolicy()} if base64_text else {})
    return QueueClient.from_connection_string(azurite.connection_string, name, **policies)


def exists(client: QueueClient) -> bool:
    try:
        client.get_queue_properties()
    except ResourceNotFoundError:
        return False
    return True


def peek_all(client: QueueClient) -> list[Any]:
    try:
        return list(client.peek_messages(max_messages=32))
    except ResourceNotFoundError:  # not created yet
        return []


# --- start-up ----------------------------------------------------------------------------------------

def test_banner_lists_each_function_with_its_route_or_trigger(server, queues):
    port = server.base_url.rsplit(":", 1)[1]
    out = server.stdout
    assert f"echo: [GET,POST,PUT] http://127.0.0.1:{port}/api/echo/{{name}}" in out
    assert f"verify_all: [POST] http://127.0.0.1:{port}/api/status/verify" in out
    assert "tick: timerTrigger (%SAMPLE_TICK_SCHEDULE% = * * * * * *)" in out
    assert f"consume: queueTrigger ({queues['SAMPLE_QUEUE']})" in out
    assert "Not loaded" not in out


def test_local_settings_fill_unset_variables_without_overriding_the_environment(server):
    preset = requests.get(server.url("/api/settings/SAMPLE_PRESET"), timeout=10).json()
    from_file = requests.get(server.url("/api/settings/SAMPLE_FROM_FILE"), timeout=10).json()
    assert preset["value"] == "from-env"
    assert from_file["value"] == "from-file"


def test_configuration_error_from_the_startup_check_exits_with_status_2(tmp_path):
    message = "KEY_VAULT_URL must be set outside local development."
    failing = launch(tmp_path, env={"SAMPLE_STARTUP_ERROR": message})
    try:
        status = failing.process.wait(timeout=60)
    finally:
        failing.stop()
    eventually(lambda: "KEY_VAULT_URL must be set" in failing.stderr, timeout=5, what="the message on stderr")
    assert status == 2
    assert "Listening on" not in failing.stdout


def test_function_that_cannot_load_is_reported_and_the_others_still_run(tmp_path):
    # NCRONTAB needs six fields (seconds first); a five-field cron is refused, as the host does.
    running = wait_listening(launch(tmp_path, env={"SAMPLE_TICK_SCHEDULE": "*/5 * * * *"}))
    try:
        assert "tick: The schedule '*/5 * * * *' has 5 fields; NCRONTAB needs 6" in running.stdout
        missing = "consume: The app setting 'SAMPLE_QUEUE' (used as '%SAMPLE_QUEUE%') is not set"
        assert missing in running.stdout
        assert requests.get(running.url("/api/items/1"), timeout=10).json() == {"id": 1}
    finally:
        running.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_cleanly(tmp_path, sig):
    running = wait_listening(launch(tmp_path, env={}, settings={"SAMPLE_TICK_SCHEDULE": "* * * * * *"}))
    assert requests.get(running.url("/api/settings/SAMPLE_TICK_SCHEDULE"), timeout=10).status_code == 200
    assert running.stop(sig) == 0
    eventually(lambda: "Stopped." in running.stdout, timeout=5, what="'Stopped.'")


# --- HTTP --------------------------------------------------------------------------------------------

def test_request_reaches_the_function_with_method_url_headers_query_route_and_body(server):
    response = requests.post(
        server.url("/api/echo/Alice?x=1&x=2&empty=&status=201"),
        data=b"hello body", headers={"X-Sample-One": "v1", "Content-Type": "text/plain"}, timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["X-Echo"] == "Alice"
    assert response.headers["Content-Type"] == "application/json"
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["url"] == server.url("/api/echo/Alice?x=1&x=2&empty=&status=201")
    assert echoed["params"] == {"x": "1,2", "empty": "", "status": "201"}
    assert echoed["routeParams"] == {"name": "Alice"}
    assert echoed["headers"] == {"x-sample-one": "v1"}
    assert echoed["body"] == "hello body"


def test_chunked_request_body_is_read_in_full(server):
    chunks = (part.encode() for part in ["first,", "second,", "third"])
    response = requests.put(server.url("/api/echo/chunks"), data=chunks, timeout=10)
    assert response.status_code == 200
    assert response.json()["body"] == "first,second,third"


def test_literal_route_wins_over_parameter_route(server):
    assert requests.post(server.url("/api/status/verify"), timeout=10).json() == {"handler": "verify_all"}
    one = requests.get(server.url("/api/status/verify"), timeout=10).json()
    assert one == {"handler": "status_one", "customerId": "verify"}
    verify_one = requests.post(server.url("/API/STATUS/c-1/verify"), timeout=10).json()
    assert verify_one == {"handler": "verify_one", "customerId": "c-1"}


def test_route_constraints_and_catch_all(server):
    assert requests.get(server.url("/api/items/12"), timeout=10).json() == {"id": 12}
    assert requests.get(server.url("/api/items/twelve"), timeout=10).status_code == 404
    assert requests.get(server.url("/api/files/a/b/c.txt"), timeout=10).json() == {"path": "a/b/c.txt"}


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
        assert session.get(server.url("/api/items/3"), timeout=10).json() == {"id": 3}


def test_unknown_route_is_a_json_404(server):
    response = requests.get(server.url("/api/nothing/here"), timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "notFound" and error["message"]


def test_known_route_with_wrong_method_is_a_json_405_with_allow(server):
    response = requests.patch(server.url("/api/echo/x"), timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST, PUT"
    assert response.json()["error"]["code"] == "methodNotAllowed"
    other = requests.delete(server.url("/api/status/c-1"), timeout=10)
    assert other.status_code == 405 and other.headers["Allow"] == "GET"


def test_a_method_http_server_does_not_know_is_routed_too(server):
    # Without routing, http.server answers such methods with an HTML 501.
    unusual = requests.request("QUERY", server.url("/api/echo/x"), timeout=10)
    assert unusual.status_code == 405
    assert unusual.json()["error"]["code"] == "methodNotAllowed"
    unknown = requests.request("PROPFIND", server.url("/api/nothing"), timeout=10)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "notFound")


def test_context_parameter_and_async_functions(server):
    context = requests.get(server.url("/api/context"), timeout=10).json()
    assert context["functionName"] == "with_context"
    assert len(context["invocationId"]) == 36
    assert requests.get(server.url("/api/async/v1"), timeout=10).json() == {"value": "v1", "async": True}


def test_raising_function_answers_500_json_without_trace_and_logs_the_trace(server):
    response = requests.get(server.url("/api/boom"), timeout=10)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internalError"
    assert "Traceback" not in response.text and "7f3a" not in response.text
    eventually(lambda: "RuntimeError: sample failure with internal detail 7f3a" in server.stderr,
               timeout=5, what="the trace on stderr")


def test_body_over_the_limit_is_refused_with_413_before_it_is_read(server):
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/echo/big HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 2097152\r\n\r\n")  # the test server's cap is 1 MiB; no body follows
        reply = b""
        while chunk := sock.recv(4096):  # the server closes the connection after the 413
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert json.loads(body)["error"]["code"] == "payloadTooLarge"


def test_body_over_the_limit_with_expect_100_continue_is_refused_without_continue(server):
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"PUT /api/echo/big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: 2097152\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):  # the server closes the connection after the 413
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"100 Continue" not in reply


def test_each_request_is_one_stdout_line_without_query_string_headers_or_body(server):
    response = requests.get(
        server.url("/authenticate/OAuth2Callback?code=SECRET-CODE-123&state=abc"),
        headers={"x-functions-key": "KEY-SECRET-9"}, timeout=10,
    )
    assert response.status_code == 200 and response.text == "code received: True"
    requests.post(server.url("/api/echo/logged"), data=b"BODY-SECRET-5", timeout=10)
    eventually(lambda: re.search(r"^GET /authenticate/OAuth2Callback 200 \d+\.\d ms$", server.stdout, re.M),
               timeout=5, what="the callback's access line")
    eventually(lambda: re.search(r"^POST /api/echo/logged 200 \d+\.\d ms$", server.stdout, re.M),
               timeout=5, what="the echo's access line")
    logs = server.stdout + server.stderr
    for secret in ("SECRET-CODE-123", "KEY-SECRET-9", "BODY-SECRET-5", "state=abc"):
        assert secret not in logs


# --- timers ------------------------------------------------------------------------------------------

def test_timer_fires_on_an_every_second_schedule_from_a_setting(server):
    ticks = eventually(lambda: server.events("tick") if len(server.events("tick")) >= 2 else None,
                       timeout=15, what="two ticks")
    assert all(t["type"] == "TimerRequest" and t["pastDue"] is False for t in ticks)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t["next"]) for t in ticks)


def test_run_on_startup_runs_a_timer_once_at_start(server):
    runs = eventually(lambda: server.events("yearly_on_startup"), timeout=10, what="the start-up run")
    assert runs == [{"pastDue": False}]


def test_failing_timer_is_logged_and_keeps_its_schedule(server):
    eventually(lambda: len(server.events("tick_fails")) >= 2, timeout=15, what="a second run after a failure")
    assert "RuntimeError: timer failure: the schedule must go on" in server.stderr


# --- queues ------------------------------------------------------------------------------------------

def test_queue_message_is_consumed_deleted_and_its_output_binding_sent(server, azurite, queues):
    name = queues["SAMPLE_QUEUE"]
    inbox = queue(azurite, name)
    eventually(lambda: exists(inbox), timeout=30, what="the devserver to create the queue")
    text = f"hello queue {uuid.uuid4().hex[:6]}"
    sent = inbox.send_message(text)

    def consumed() -> dict[str, Any] | None:
        return next((e for e in server.events("consume") if e["body"] == text), None)

    event = eventually(consumed, timeout=30, what="the queue function to run")
    assert event["id"] == sent.id
    assert event["dequeueCount"] == 1
    assert event["inserted"] and event["expires"] and event["popReceipt"]
    eventually(lambda: inbox.get_queue_properties().approximate_message_count == 0, timeout=10,
               what="the message to be deleted")
    outbox = queue(azurite, f"{name}-out")
    forwarded = eventually(lambda: [m.content for m in peek_all(outbox)], timeout=10,
                           what="the output message")
    assert text.upper() in forwarded  # decoded from base64, as the host encodes output messages


def test_message_that_is_not_base64_goes_to_poison_without_running_the_function(server, azurite, queues):
    name = queues["SAMPLE_QUEUE"]
    raw = queue(azurite, name, base64_text=False)
    eventually(lambda: exists(raw), timeout=30, what="the devserver to create the queue")
    raw.send_message("plain text, not base64!")
    poison = queue(azurite, f"{name}-poison", base64_text=False)
    eventually(lambda: "plain text, not base64!" in [m.content for m in peek_all(poison)], timeout=30,
               what="the message in the poison queue")
    assert all(e["body"] != "plain text, not base64!" for e in server.events("consume"))


def test_failing_queue_message_moves_to_poison_after_five_dequeues(server, azurite, queues):
    name = queues["SAMPLE_FAIL_QUEUE"]
    inbox = queue(azurite, name)
    eventually(lambda: exists(inbox), timeout=30, what="the devserver to create the queue")
    sent = inbox.send_message("doomed")
    poison = queue(azurite, f"{name}-poison")
    landed = eventually(lambda: [m for m in peek_all(poison) if m.content == "doomed"], timeout=60,
                        what="the message in the poison queue")
    assert len(landed) == 1
    attempts = [e["dequeueCount"] for e in server.events("always_fails") if e["id"] == sent.id]
    assert attempts == [1, 2, 3, 4, 5]
    eventually(lambda: inbox.get_queue_properties().approximate_message_count == 0, timeout=10,
               what="the original to be deleted")


# --- host pieces, in process -------------------------------------------------------------------------

def test_development_storage_shorthand_points_queues_at_local_azurite():
    settings = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    client = queue_client("AzureWebJobsStorage", "jobs", settings)
    assert client.url == "http://127.0.0.1:10001/devstoreaccount1/jobs"
    named = queue_client("Jobs", "jobs", {"AzureWebJobsJobs": "UseDevelopmentStorage=true"})
    assert named.account_name == "devstoreaccount1"


def test_message_bodies_are_base64_both_ways_unless_host_json_says_none():
    assert decode_body(base64.b64encode(b"\x00\xffbin").decode(), "base64") == b"\x00\xffbin"
    assert decode_body("aGVs\nbG8=", "base64") == b"hello"  # whitespace ignored, as .NET does
    with pytest.raises(ValueError):
        decode_body("hello!", "base64")
    assert decode_body("hello!", "none") == b"hello!"
    assert encode_body("h\u00e9", "base64") == base64.b64encode("h\u00e9".encode()).decode()
    assert encode_body(b"raw", "none") == "raw"


def test_ncrontab_has_seconds_first_and_needs_day_and_weekday_to_match():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_schedule("30 15 10 * * *").next_after(start) == datetime(2024, 1, 1, 10, 15, 30, tzinfo=UTC)
    # "Friday the 13th": NCrontab ANDs the two day fields, unlike Vixie cron's OR.
    assert parse_schedule("0 0 0 13 * 5").next_after(start) == datetime(2024, 9, 13, tzinfo=UTC)
    assert parse_schedule("00:00:30").next_after(start) == datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)
