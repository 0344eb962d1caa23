"""The alert sender (shared/adapters/outbound_http.py) against the local alert receiver over real HTTPS on loopback:
signed webhooks verify and arrive once, SNI and Host name the URL's host, no redirect is followed, at most a few KiB
of an answer are read, time-outs hold, and refused addresses are never connected to (a resolver is injected, so no
test sends anything anywhere but loopback)."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shared.adapters.outbound_http import OutboundHttp
from shared.domain.alerts.channel_urls import ChannelUrl
from shared.domain.alerts.channels import ChannelKind
from shared.domain.alerts.delivery_retry import OutcomeKind
from shared.domain.alerts.digests import Digest, DigestEntry, EntryKind
from shared.domain.alerts.messages import OutgoingMessage, outgoing_message
from shared.domain.alerts.signing import new_signing_secret
from shared.domain.errors import InputError
from shared.domain.reasons import Reason
from tools.alert_receiver import AlertReceiver
from tools.identity_sim.tls import system_ca_bundle

NAME = "receiver.test"  # resolved to 127.0.0.1 by the injected resolver only
PAGE = "https://status.example.com/"


class Network:
    """The sender's view of DNS and TCP: names resolve as the test says; every connection is noted."""

    def __init__(self) -> None:
        self.names: dict[str, list[list[str]]] = {NAME: [["127.0.0.1"]]}
        self.lookups: list[str] = []
        self.connections: list[tuple[str, int]] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answers = self.names.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def connect(self, address: tuple[str, int], timeout: float) -> socket.socket:
        self.connections.append(address)
        assert address[0] in ("127.0.0.1", "::1"), "a test connection may only go to loopback"
        return socket.create_connection(address, timeout=timeout)


@pytest.fixture
def receiver(tmp_path) -> Iterator[AlertReceiver]:
    with AlertReceiver(ca_dir=tmp_path / "ca", hostnames=(NAME,)) as instance:
        yield instance


@pytest.fixture
def network() -> Network:
    return Network()


def _sender(receiver: AlertReceiver, network: Network, *, local: bool = True, **options) -> OutboundHttp:
    return OutboundHttp(local_development=local, resolver=network.resolve, connect=network.connect,
                        verify=str(receiver.ca_bundle_path), **options)


def _digest() -> Digest:
    entry = DigestEntry(EntryKind.CONNECTION_LOST, "contoso", "contoso.onmicrosoft.com", datetime.now(UTC),
                        Reason.INVALID_CREDENTIALS, hint="Check the password.", message="AADSTS50126: Error.",
                        event_id="e-1")
    counts = dict.fromkeys(EntryKind, 0) | {EntryKind.CONNECTION_LOST: 1}
    return Digest("ops", "run:r1", "r1", datetime.now(UTC), counts, (entry,))


def _webhook(secret: str, delivery_id: str = "d-1") -> OutgoingMessage:
    return outgoing_message(ChannelKind.WEBHOOK, _digest(), delivery_id=delivery_id, page_url=PAGE,
                            signing_secret=secret, timestamp=int(datetime.now(UTC).timestamp()))


def _by_name(url: str, receiver: AlertReceiver) -> str:
    return url.replace("127.0.0.1", NAME)


def test_a_signed_webhook_arrives_once_under_the_urls_name(receiver, network):
    secret = new_signing_secret()
    url = _by_name(receiver.add_webhook("ops", secret), receiver)
    sender, message = _sender(receiver, network), _webhook(secret)
    first = sender.post(url, message.body, message.headers)
    again = sender.post(url, message.body, message.headers)  # a redelivered queue message, a second instance
    assert (first.kind, first.status, again.kind) == (OutcomeKind.SENT, 200, OutcomeKind.SENT)
    [received] = receiver.inbox.messages()
    assert received.delivery_id == "d-1" and received.payload["customers"][0]["customerId"] == "contoso"
    port = url.split(":")[2].split("/")[0]
    assert received.host == f"{NAME}:{port}"  # the Host header names the URL's host...
    assert receiver.sni_names == [NAME, NAME]  # ...and so does TLS
    assert [a.outcome for a in receiver.inbox.attempts()] == ["accepted", "duplicate"]
    assert network.lookups == [NAME, NAME] and network.connections == [("127.0.0.1", int(port))] * 2


def test_the_receiver_refuses_a_signature_under_another_secret(receiver, network):
    url = receiver.add_webhook("ops", new_signing_secret())
    message = _webhook(new_signing_secret())
    outcome = _sender(receiver, network).post(url, message.body, message.headers)
    assert (outcome.kind, outcome.status) == (OutcomeKind.REJECTED, 401)
    assert receiver.inbox.messages() == []
    assert receiver.inbox.attempts()[0].outcome == "rejected: signature mismatch"


def test_a_teams_message_arrives(receiver, network):
    url = receiver.add_teams("team")
    message = outgoing_message(ChannelKind.TEAMS, _digest(), delivery_id="d-2", page_url=PAGE, signing_secret=None,
                               timestamp=0)
    outcome = _sender(receiver, network).post(url, message.body, message.headers)
    assert (outcome.kind, outcome.status) == (OutcomeKind.SENT, 202)
    [received] = receiver.inbox.messages()
    assert received.kind == "teams" and received.payload["attachments"][0]["content"]["type"] == "AdaptiveCard"


def test_a_redirect_is_not_followed(receiver, network):
    secret = new_signing_secret()
    url = receiver.add_webhook("ops", secret)
    receiver.answer(302, location=receiver.add_webhook("elsewhere", secret), times=1)
    message = _webhook(secret)
    outcome = _sender(receiver, network).post(url, message.body, message.headers)
    assert (outcome.kind, outcome.status) == (OutcomeKind.REDIRECTED, 302)
    assert "not followed" in outcome.detail
    assert [(a.path, a.status) for a in receiver.inbox.attempts()] == [("/webhook/ops", 302)]
    assert receiver.inbox.messages() == []


def test_at_most_a_few_kib_of_an_answer_are_read(receiver, network):
    secret = new_signing_secret()
    url = receiver.add_webhook("ops", secret)
    receiver.answer(200, body_bytes=64 << 20, times=1)  # far more than socket buffers hold
    message = _webhook(secret)
    outcome = _sender(receiver, network, max_body_bytes=4096).post(url, message.body, message.headers)
    assert outcome.kind is OutcomeKind.SENT
    # the sender hung up instead of reading it all: the receiver could not write the rest
    assert receiver.inbox.wait_for(lambda inbox: not inbox.attempts()[0].answer_complete, timeout=60)


def test_a_receiver_that_does_not_answer_times_out(receiver, network):
    secret = new_signing_secret()
    url = receiver.add_webhook("ops", secret)
    receiver.answer(200, delay=60, times=1)
    message = _webhook(secret)
    outcome = _sender(receiver, network, read_timeout=2).post(url, message.body, message.headers)
    assert outcome.kind is OutcomeKind.UNREACHABLE
    assert "did not answer within the time-out" in outcome.detail


@pytest.mark.parametrize(("status", "retry_after", "kind"), [
    (500, None, OutcomeKind.SERVER_ERROR), (503, None, OutcomeKind.SERVER_ERROR),
    (429, "120", OutcomeKind.THROTTLED), (404, None, OutcomeKind.REJECTED),
])
def test_failed_answers(receiver, network, status, retry_after, kind):
    secret = new_signing_secret()
    url = receiver.add_webhook("ops", secret)
    receiver.answer(status, retry_after=retry_after, times=1)
    message = _webhook(secret)
    sender = _sender(receiver, network)
    outcome = sender.post(url, message.body, message.headers)
    assert (outcome.kind, outcome.status, outcome.retry_after) == (kind, status, retry_after)
    assert sender.post(url, message.body, message.headers).kind is OutcomeKind.SENT  # `times=1` is spent


def test_a_receiver_down_refuses_connections_until_it_is_up(receiver, network):
    secret = new_signing_secret()
    url = receiver.add_webhook("ops", secret)
    message, sender = _webhook(secret), _sender(receiver, network)
    receiver.down()
    outcome = sender.post(url, message.body, message.headers)
    assert (outcome.kind, outcome.detail) == (OutcomeKind.UNREACHABLE, "could not connect to 127.0.0.1")
    receiver.up()
    assert sender.post(url, message.body, message.headers).kind is OutcomeKind.SENT
    assert len(receiver.inbox.messages()) == 1


@pytest.mark.parametrize("address", ["10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "169.254.169.254",
                                     "fd00::1", "fe80::1", "::ffff:192.168.0.1", "::ffff:169.254.169.254", "0.0.0.0",
                                     "224.0.0.251"])
def test_a_name_resolving_to_a_refused_range_is_never_connected_to(receiver, network, address):
    network.names["hooks.example.com"] = [[address]]
    outcome = _sender(receiver, network).post("https://hooks.example.com/x?sig=S3CRET", b"{}", {})
    assert outcome.kind is OutcomeKind.NOT_ALLOWED
    assert address in outcome.detail and "S3CRET" not in outcome.detail
    assert network.connections == []


def test_loopback_is_refused_outside_local_development(receiver, network):
    secret = new_signing_secret()
    message = _webhook(secret)
    sender = _sender(receiver, network, local=False)
    for url in (_by_name(receiver.add_webhook("ops", secret), receiver), receiver.add_webhook("ops")):
        outcome = sender.post(url, message.body, message.headers)
        assert outcome.kind is OutcomeKind.NOT_ALLOWED
    assert network.connections == [] and receiver.inbox.attempts() == []


def test_one_refused_address_among_the_answers_refuses_the_host(receiver, network):
    network.names[NAME] = [["127.0.0.1", "10.1.2.3"]]
    secret = new_signing_secret()
    outcome = _sender(receiver, network).post(_by_name(receiver.add_webhook("ops", secret), receiver), b"{}", {})
    assert outcome.kind is OutcomeKind.NOT_ALLOWED and network.connections == []


def test_the_address_checked_is_the_address_connected_to(receiver, network):
    """DNS rebinding: the name would answer a private address the second time it is asked; it is asked once."""
    network.names[NAME] = [["127.0.0.1"], ["10.0.0.1"]]
    secret = new_signing_secret()
    url = _by_name(receiver.add_webhook("ops", secret), receiver)
    message = _webhook(secret)
    assert _sender(receiver, network).post(url, message.body, message.headers).kind is OutcomeKind.SENT
    assert network.lookups == [NAME]
    assert [host for host, _ in network.connections] == ["127.0.0.1"]


def test_plain_http_goes_to_loopback_only_in_local_development(receiver, network):
    secret = new_signing_secret()
    url = receiver.add_webhook("ops", secret, scheme="http")
    message = _webhook(secret)
    assert _sender(receiver, network).post(url, message.body, message.headers).kind is OutcomeKind.SENT
    refused = _sender(receiver, network, local=False).post(url, message.body, message.headers)
    assert refused.kind is OutcomeKind.NOT_ALLOWED and "https" in refused.detail
    assert len(receiver.inbox.attempts()) == 1


def test_a_certificate_the_sender_does_not_trust_is_refused(receiver, network):
    secret = new_signing_secret()
    url = receiver.add_webhook("ops", secret)
    message = _webhook(secret)
    sender = OutboundHttp(local_development=True, resolver=network.resolve, connect=network.connect,
                          verify=str(system_ca_bundle()))
    outcome = sender.post(url, message.body, message.headers)
    assert outcome.kind is OutcomeKind.UNREACHABLE and "certificate" in outcome.detail
    assert receiver.inbox.attempts() == []


def test_a_name_that_does_not_resolve_is_tried_again_later(receiver, network):
    outcome = _sender(receiver, network).post("https://nowhere.example.com/x", b"{}", {})
    assert (outcome.kind, outcome.detail) == (OutcomeKind.UNREACHABLE,
                                              "the host name nowhere.example.com could not be resolved")


def test_saving_a_channel_checks_where_its_url_resolves(receiver, network):
    sender = _sender(receiver, network, local=False)
    network.names["metadata.example.com"] = [["169.254.169.254"]]
    network.names["hooks.example.com"] = [["8.8.8.8"]]
    with pytest.raises(InputError) as refused:
        sender.check_destination("https://metadata.example.com/latest?sig=S3CRET")
    assert (refused.value.code, refused.value.target) == ("channelUrlNotAllowed", "url")
    assert "S3CRET" not in refused.value.message
    with pytest.raises(InputError) as unresolved:
        sender.check_destination("https://nowhere.example.com/x")
    assert (unresolved.value.code, unresolved.value.target) == ("invalidChannelUrl", "url")
    assert sender.check_destination("https://hooks.example.com/x?a=1") == ChannelUrl("https", "hooks.example.com", 443,
                                                                                      "/x?a=1")
    assert network.connections == []


def test_the_sender_trusts_the_environments_ca_bundle_by_default(receiver, network, monkeypatch):
    secret = new_signing_secret()
    url = receiver.add_webhook("ops", secret)
    message = _webhook(secret)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(receiver.ca_bundle_path))
    sender = OutboundHttp(local_development=True, resolver=network.resolve, connect=network.connect)
    assert sender.post(url, message.body, message.headers).kind is OutcomeKind.SENT
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    untrusting = OutboundHttp(local_development=True, resolver=network.resolve, connect=network.connect)
    assert untrusting.post(url, message.body, message.headers).kind is OutcomeKind.UNREACHABLE  # certifi's CAs only
