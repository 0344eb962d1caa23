"""AlertReceiver: a webhook and Teams Workflows receiver on loopback, over HTTPS (a certificate from the simulators'
CA) and plain HTTP, on the simulators' server base.

    with AlertReceiver(ca_dir=tmp_path, hostnames=("receiver.test",)) as receiver:
        url = receiver.add_webhook("ops", secret)      # https://127.0.0.1:PORT/webhook/ops
        teams = receiver.add_teams("team")             # https://127.0.0.1:PORT/teams/team?sig=...
        ...
        receiver.inbox.wait_for(lambda inbox: len(inbox.messages()) == 1, timeout=30)

A webhook must carry a valid signature (shared.domain.alerts.signing) and the same delivery id in its header and
body; a Teams message must be the Workflows envelope around an Adaptive Card. Each delivery id is taken once per
channel (a repeat is answered 200 and counted as a duplicate). `answer(...)` scripts other answers; `down()` closes
the listening sockets, so connections are refused, until `up()`.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from shared.domain.alerts.signing import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_signature,
)
from shared.domain.alerts.teams_card import CARD_CONTENT_TYPE
from tools.alert_receiver.faults import Script, Scripted
from tools.alert_receiver.inbox import Attempt, Inbox, Received
from tools.identity_sim.replies import Reply
from tools.identity_sim.server import Exchange, TlsThreadingServer
from tools.identity_sim.tls import SERVER_NAMES, SimulatorCA

logger = logging.getLogger(__name__)

_JSON = (("Content-Type", "application/json; charset=utf-8"),)


@dataclass
class _Channel:
    kind: str  # "webhook" | "teams"
    secrets: list[str] = field(default_factory=list)  # webhook: signing secrets (several while rotating)
    sig: str | None = None  # teams: the signature its URL carries


class AlertReceiver:
    def __init__(self, *, ca_dir: str | os.PathLike[str] | None = None, host: str = "127.0.0.1",
                 hostnames: tuple[str, ...] = (), ports: tuple[int, int] = (0, 0)) -> None:
        """`hostnames`: names besides 127.0.0.1 and localhost that the certificate holds (for a client that resolves
        a name of its own to this receiver)."""
        self.inbox = Inbox()
        self.sni_names: list[str | None] = []  # the server name each TLS client asked for, in order
        self._script = Script()
        self._channels: dict[str, _Channel] = {}
        self._lock = threading.Lock()
        self._host, self._hostnames = host, hostnames
        self._ca_dir, self._temp_dir = ca_dir, None
        self.ca: SimulatorCA | None = None
        self._context: ssl.SSLContext | None = None
        self._servers: dict[str, TlsThreadingServer] = {}  # by scheme
        self._ports = {"https": ports[0], "http": ports[1]}  # 0: a free one, kept across down() and up()
        self._up_timer: threading.Timer | None = None
        self._released = threading.Event()  # set while down or stopped: answers held by a scripted delay go

    # Lifecycle
    def start(self) -> Self:
        if self._ca_dir is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="alert-receiver-")
        self.ca = SimulatorCA(self._ca_dir if self._ca_dir is not None else self._temp_dir.name)
        self._context = self.ca.server_context(*SERVER_NAMES, *self._hostnames)
        self._context.sni_callback = self._sni
        self.up()
        return self

    def stop(self) -> None:
        self._cancel_timer()
        self._close_servers()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def down(self, *, seconds: float | None = None) -> None:
        """Refuse connections (the listening sockets close) until `up()`, or for `seconds`."""
        self._cancel_timer()
        self._close_servers()
        if seconds is not None:
            self._up_timer = threading.Timer(seconds, self.up)
            self._up_timer.daemon = True
            self._up_timer.start()

    def up(self) -> None:
        """Listen again, on the same ports."""
        with self._lock:
            self._released.clear()
            for scheme, context in (("https", self._context), ("http", None)):
                if scheme in self._servers:
                    continue
                server = TlsThreadingServer((self._host, self._ports[scheme]), context=context,
                                            handle=lambda exchange, s=scheme: self._handle(exchange, s),
                                            methods=("GET", "POST", "PUT", "DELETE"))
                self._ports[scheme] = server.server_address[1]
                self._servers[scheme] = server
                threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                 name=f"alert-receiver-{scheme}", daemon=True).start()

    # Configuration
    def add_webhook(self, name: str, secret: str | None = None, *, scheme: str = "https") -> str:
        """A webhook channel named `name` whose messages are signed with `secret` (another call adds a secret, as
        while rotating); its URL."""
        with self._lock:
            channel = self._channels.setdefault(name, _Channel("webhook"))
            if secret is not None:
                channel.secrets.append(secret)
        return f"{self.base_url(scheme)}/webhook/{name}"

    def add_teams(self, name: str, *, scheme: str = "https") -> str:
        """A Teams Workflows channel named `name`; its URL, which carries a signature as a workflow's does."""
        with self._lock:
            channel = self._channels.setdefault(name, _Channel("teams", sig=secrets.token_urlsafe(24)))
        return f"{self.base_url(scheme)}/teams/{name}?api-version=2016-06-01&sig={channel.sig}"

    def answer(self, status: int, *, retry_after: str | None = None, location: str | None = None,
               body_bytes: int = 0, delay: float = 0.0, times: int | None = None,
               seconds: float | None = None) -> None:
        """Answer `status` instead of taking messages in: to the next `times` requests, or for `seconds`, or until
        `clear()`."""
        self._script.set(Scripted(status, retry_after, location, body_bytes, delay), times=times, seconds=seconds)

    def clear(self) -> None:
        self._script.clear()

    def base_url(self, scheme: str = "https") -> str:
        if not self._ports[scheme]:
            raise RuntimeError("start() the receiver first")
        return f"{scheme}://{self._host}:{self._ports[scheme]}"

    @property
    def ca_bundle_path(self) -> Path:
        assert self.ca is not None, "start() the receiver first"
        return self.ca.bundle_path

    # Serving
    def _sni(self, connection: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        with self._lock:
            self.sni_names.append(server_name)

    def _handle(self, exchange: Exchange, scheme: str) -> None:
        target = urlsplit(exchange.target)
        parts = target.path.strip("/").split("/")
        with self._lock:
            channel = self._channels.get(parts[1]) if len(parts) == 2 else None
        if channel is None or parts[0] != channel.kind:
            exchange.send(Reply(404))
            return
        delivery_id = exchange.headers.get(DELIVERY_ID_HEADER)
        if exchange.method != "POST":
            exchange.send(Reply(405, headers=(("Allow", "POST"),)))
            return
        scripted = self._script.next()
        if scripted is not None:
            number = self.inbox.attempted(Attempt(target.path, delivery_id, scripted.status, "scripted"))
            if not self._send_scripted(exchange, scripted):
                self.inbox.answer_cut_short(number)
            return
        status, outcome, payload = self._check(exchange, channel, target.query)
        if status < 300:
            message = Received(parts[1], channel.kind, delivery_id, payload, exchange.headers.get("Host", ""),
                               scheme, time.time())
            outcome = "accepted" if self.inbox.take(message) else "duplicate"
        self.inbox.attempted(Attempt(target.path, delivery_id, status, outcome))
        exchange.send(Reply(status, json.dumps({"outcome": outcome}).encode(), _JSON))

    def _check(self, exchange: Exchange, channel: _Channel, query: str) -> tuple[int, str, Any]:
        """(status, outcome, parsed body) of a message to `channel`."""
        if channel.kind == "teams" and parse_qs(query).get("sig") != [channel.sig]:
            return 401, "rejected: the URL's sig is wrong", None
        if channel.kind == "webhook":
            problem = check_signature(exchange.body, signature_header=exchange.headers.get(SIGNATURE_HEADER),
                                      timestamp_header=exchange.headers.get(TIMESTAMP_HEADER),
                                      signing_secrets=channel.secrets, now=datetime.now(UTC))
            if problem is not None:
                return 401, f"rejected: signature {problem}", None
        try:
            payload = json.loads(exchange.body)
        except ValueError:
            return 400, "rejected: the body is not JSON", None
        why = _webhook_problem(payload, exchange) if channel.kind == "webhook" else _teams_problem(payload)
        return (400, f"rejected: {why}", payload) if why else (202 if channel.kind == "teams" else 200, "", payload)

    def _send_scripted(self, exchange: Exchange, scripted: Scripted) -> bool:
        """Sends a scripted answer; False when the client left before all of it was written."""
        if scripted.delay:
            self._released.wait(scripted.delay)
        headers = [("Content-Type", "text/plain")]
        if scripted.retry_after is not None:
            headers.append(("Retry-After", scripted.retry_after))
        if scripted.location is not None:
            headers.append(("Location", scripted.location))
        try:
            exchange.send(Reply(scripted.status, b"x" * scripted.body_bytes, tuple(headers)))
        except OSError:
            exchange.drop()
            return False
        return True

    def _cancel_timer(self) -> None:
        if self._up_timer is not None:
            self._up_timer.cancel()
            self._up_timer = None

    def _close_servers(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
            self._released.set()
        for server in servers:
            server.shutdown()
            server.close_connections()
            server.server_close()


def _webhook_problem(payload: Any, exchange: Exchange) -> str | None:
    if not isinstance(payload, dict):
        return "the body is not a JSON object"
    if not exchange.headers.get(DELIVERY_ID_HEADER):
        return f"no {DELIVERY_ID_HEADER} header"
    if payload.get("deliveryId") != exchange.headers.get(DELIVERY_ID_HEADER):
        return f"the body's deliveryId differs from {DELIVERY_ID_HEADER}"
    return None


def _teams_problem(payload: Any) -> str | None:
    attachments = payload.get("attachments") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or payload.get("type") != "message" or not isinstance(attachments, list):
        return "not a Workflows message envelope"
    if not attachments or not all(
            isinstance(a, dict) and a.get("contentType") == CARD_CONTENT_TYPE
            and isinstance(a.get("content"), dict) and a["content"].get("type") == "AdaptiveCard"
            for a in attachments):
        return "an attachment is not an Adaptive Card"
    return None
