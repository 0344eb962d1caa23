"""The local alert receiver (tools/alert_receiver), driven by a plain HTTP client over real HTTPS on loopback: it
verifies signatures, checks both shapes, deduplicates by X-Delivery-Id, and answers as scripted or is down."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from shared.domain.alerts.signing import signature
from tools.alert_receiver import AlertReceiver
from tools.alert_receiver.control import control_server

SECRET, OLD_SECRET = "whsec_current", "whsec_previous"


@pytest.fixture
def receiver(tmp_path) -> Iterator[AlertReceiver]:
    with AlertReceiver(ca_dir=tmp_path / "ca") as instance:
        yield instance


def _signed(body: dict, *, secret: str = SECRET, delivery_id: str | None = "d-1", stamp: int | None = None,
            ) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    stamp = int(time.time()) if stamp is None else stamp
    headers = {"Content-Type": "application/json", "X-Signature-Timestamp": str(stamp),
               "X-Signature": signature(secret, timestamp=stamp, body=raw)}
    if delivery_id is not None:
        headers["X-Delivery-Id"] = delivery_id
    return raw, headers


def _post(receiver: AlertReceiver, url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers=headers, verify=str(receiver.ca_bundle_path), timeout=30)


def _envelope(content_type: str = "application/vnd.microsoft.card.adaptive") -> dict:
    return {"type": "message", "attachments": [{"contentType": content_type,
                                                 "content": {"type": "AdaptiveCard", "version": "1.4", "body": []}}]}


def test_a_signed_webhook_is_taken_once(receiver):
    url = receiver.add_webhook("ops", SECRET)
    body, headers = _signed({"deliveryId": "d-1", "n": 1})
    assert [_post(receiver, url, body, headers).json()["outcome"] for _ in range(2)] == ["accepted", "duplicate"]
    [message] = receiver.inbox.messages()
    assert (message.channel, message.kind, message.delivery_id, message.payload, message.scheme) == (
        "ops", "webhook", "d-1", {"deliveryId": "d-1", "n": 1}, "https")


def test_while_rotating_both_secrets_verify(receiver):
    receiver.add_webhook("ops", OLD_SECRET)
    url = receiver.add_webhook("ops", SECRET)
    for n, secret in enumerate((OLD_SECRET, SECRET)):
        body, headers = _signed({"deliveryId": f"d-{n}"}, secret=secret, delivery_id=f"d-{n}")
        assert _post(receiver, url, body, headers).status_code == 200
    assert len(receiver.inbox.messages()) == 2


@pytest.mark.parametrize(("change", "status", "why"), [
    (lambda b, h: (b, {**h, "X-Signature": "sha256=" + "0" * 64}), 401, "signature mismatch"),
    (lambda b, h: (b + b" ", h), 401, "signature mismatch"),
    (lambda b, h: (b, {k: v for k, v in h.items() if k != "X-Signature"}), 401, "signature missing"),
    (lambda b, h: _signed({"deliveryId": "d-1"}, stamp=int(time.time()) - 3600), 401, "signature stale"),
    (lambda b, h: _signed({"deliveryId": "d-1"}, secret="whsec_other"), 401, "signature mismatch"),
    (lambda b, h: _signed({"deliveryId": "d-2"}), 400, "the body's deliveryId differs from X-Delivery-Id"),
    (lambda b, h: _signed({"deliveryId": "d-1"}, delivery_id=None), 400, "no X-Delivery-Id header"),
    (lambda b, h: _signed([1]), 400, "the body is not a JSON object"),
])
def test_a_webhook_that_does_not_verify_is_refused(receiver, change, status, why):
    url = receiver.add_webhook("ops", SECRET)
    body, headers = change(*_signed({"deliveryId": "d-1"}))
    assert _post(receiver, url, body, headers).status_code == status
    assert receiver.inbox.messages() == []
    assert receiver.inbox.attempts()[0].outcome == f"rejected: {why}"


def test_a_teams_message_is_taken_once_per_delivery_id(receiver):
    url = receiver.add_teams("team")
    body = json.dumps(_envelope()).encode()
    statuses = [_post(receiver, url, body, {"X-Delivery-Id": "d-1"}).status_code for _ in range(2)]
    assert statuses == [202, 202]
    assert _post(receiver, url, body, {}).status_code == 202  # no delivery id: nothing to deduplicate on
    assert [a.outcome for a in receiver.inbox.attempts()] == ["accepted", "duplicate", "accepted"]
    assert receiver.inbox.messages()[0].payload == _envelope()


@pytest.mark.parametrize(("mutate", "status"), [
    (lambda url: url.replace("sig=", "sig=x"), 401), (lambda url: url.split("?")[0], 401)])
def test_a_teams_url_without_its_signature_is_refused(receiver, mutate, status):
    url = mutate(receiver.add_teams("team"))
    assert _post(receiver, url, json.dumps(_envelope()).encode(), {}).status_code == status
    assert receiver.inbox.messages() == []


@pytest.mark.parametrize("body", [{"text": "Office 365 connector card"}, _envelope("application/json"),
                                  {"type": "message", "attachments": []}, [1], "x"])
def test_only_the_workflows_envelope_around_an_adaptive_card_is_taken(receiver, body):
    url = receiver.add_teams("team")
    assert _post(receiver, url, json.dumps(body).encode(), {}).status_code == 400
    assert receiver.inbox.messages() == []


def test_the_same_delivery_id_on_two_channels_is_two_messages(receiver):
    body = json.dumps(_envelope()).encode()
    for name in ("a", "b"):
        assert _post(receiver, receiver.add_teams(name), body, {"X-Delivery-Id": "d-1"}).status_code == 202
    assert len(receiver.inbox.messages()) == 2


def test_unknown_paths_and_other_methods(receiver):
    url = receiver.add_webhook("ops", SECRET)
    ca = str(receiver.ca_bundle_path)
    assert requests.post(url.replace("ops", "nobody"), data=b"{}", verify=ca, timeout=30).status_code == 404
    assert requests.post(url.replace("/webhook/", "/teams/"), data=b"{}", verify=ca, timeout=30).status_code == 404
    assert requests.get(url, verify=ca, timeout=30).status_code == 405


def test_scripted_answers_for_a_number_of_requests_then_normal_again(receiver):
    url = receiver.add_webhook("ops", SECRET)
    receiver.answer(429, retry_after="30", times=2)
    body, headers = _signed({"deliveryId": "d-1"})
    answers = [_post(receiver, url, body, headers) for _ in range(3)]
    assert [(a.status_code, a.headers.get("Retry-After")) for a in answers] == [(429, "30"), (429, "30"), (200, None)]
    assert [a.outcome for a in receiver.inbox.attempts()] == ["scripted", "scripted", "accepted"]


def test_scripted_answers_until_cleared(receiver):
    url = receiver.add_webhook("ops", SECRET)
    receiver.answer(500, seconds=3600)
    body, headers = _signed({"deliveryId": "d-1"})
    assert [_post(receiver, url, body, headers).status_code for _ in range(3)] == [500, 500, 500]
    receiver.clear()
    assert _post(receiver, url, body, headers).status_code == 200


def test_a_receiver_down_refuses_connections_and_comes_back_on_its_ports(receiver):
    https_url = receiver.add_webhook("ops", SECRET)
    http_url = receiver.add_webhook("ops", scheme="http")
    body, headers = _signed({"deliveryId": "d-1"})
    receiver.down()
    for url in (https_url, http_url):
        with pytest.raises(requests.ConnectionError):
            _post(receiver, url, body, headers)
    receiver.up()
    assert (receiver.add_webhook("ops"), receiver.add_webhook("ops", scheme="http")) == (https_url, http_url)
    assert _post(receiver, https_url, body, headers).status_code == 200
    assert _post(receiver, http_url, body, headers).json()["outcome"] == "duplicate"


def test_waiting_for_messages(receiver):
    url = receiver.add_webhook("ops", SECRET)
    body, headers = _signed({"deliveryId": "d-1"})
    threading.Thread(target=_post, args=(receiver, url, body, headers), daemon=True).start()
    assert receiver.inbox.wait_for(lambda inbox: len(inbox.messages()) == 1, timeout=60)
    assert not receiver.inbox.wait_for(lambda inbox: len(inbox.messages()) == 2, timeout=0.2)


def test_the_control_api_drives_a_receiver(receiver):
    control = control_server(receiver)
    threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{control.server_address[1]}"
    try:
        urls = requests.put(f"{base}/webhook/ops", json={"secret": SECRET}, timeout=30).json()
        assert urls == {"url": receiver.add_webhook("ops"), "httpUrl": receiver.add_webhook("ops", scheme="http")}
        assert requests.post(f"{base}/answer", json={"status": 503, "times": 1}, timeout=30).status_code == 204
        body, headers = _signed({"deliveryId": "d-1"})
        assert [_post(receiver, urls["url"], body, headers).status_code for _ in range(2)] == [503, 200]
        requests.post(f"{base}/down", json={}, timeout=30)
        with pytest.raises(requests.ConnectionError):
            _post(receiver, urls["url"], body, headers)
        requests.post(f"{base}/up", timeout=30)
        seen = requests.get(f"{base}/messages", timeout=30).json()
        assert [m["delivery_id"] for m in seen["messages"]] == ["d-1"]
        assert [a["status"] for a in seen["attempts"]] == [503, 200]
        assert requests.post(f"{base}/answer", json={}, timeout=30).status_code == 400
        assert requests.get(f"{base}/nothing", timeout=30).status_code == 404
    finally:
        control.shutdown()
        control.server_close()


def test_the_command_line_receiver(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "tools.alert_receiver", "--ca-dir", str(tmp_path)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        where = json.loads(process.stdout.readline())
        urls = requests.put(f"{where['control_url']}/teams/team", timeout=30).json()
        assert urls["url"].startswith(where["https_url"] + "/teams/team?")
        assert urls["httpUrl"].startswith(where["http_url"] + "/teams/team?")
        answer = requests.post(urls["url"], json=_envelope(), headers={"X-Delivery-Id": "d-1"},
                               verify=where["ca_bundle"], timeout=30)
        assert answer.status_code == 202
        assert len(requests.get(f"{where['control_url']}/messages", timeout=30).json()["messages"]) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_the_receiver_checks_signatures_on_its_own_clock(receiver):
    """A signature from the sender's clock verifies only when both clocks agree within five minutes."""
    url = receiver.add_webhook("ops", SECRET)
    now = int(datetime.now(UTC).timestamp())
    for stamp, status in ((now - 200, 200), (now + 200, 200), (now - 400, 401), (now + 400, 401)):
        body, headers = _signed({"deliveryId": f"d{stamp}"}, delivery_id=f"d{stamp}", stamp=stamp)
        assert _post(receiver, url, body, headers).status_code == status
