"""IdentitySimulator: the Microsoft identity platform on https://127.0.0.1:<free port>, for tests, demos, benchmarks.

    with IdentitySimulator(ca_dir=tmp_path) as sim:
        contoso = sim.add_tenant(Tenant.named("contoso"))
        sim.add_user(User(upn="admin@contoso.onmicrosoft.com", password="pw"))
        sim.add_app(AppRegistration(client_id=CLIENT_ID, secrets=(ClientSecret("s3cret"),)))
        sim.script("contoso.onmicrosoft.com", AadstsError(50126), times=1)
        msal.ConfidentialClientApplication(CLIENT_ID, client_credential="s3cret",
            authority=sim.authority("contoso.onmicrosoft.com"), instance_discovery=False, http_client=sim.session())
"""
from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tools.identity_sim.client_auth import read_client
from tools.identity_sim.directory import ANY_TENANT, AppRegistration, Directory, Tenant, User
from tools.identity_sim.grants import GrantState, IssuedGrants
from tools.identity_sim.outcomes import Endpoint, Hang, Outcome, RequestFacts, Reset, Rule, Script
from tools.identity_sim.recording import RecordedRequest, Recorder
from tools.identity_sim.relationships import DelegatedAdminRelationship
from tools.identity_sim.replies import Reply, SimulatorState, json_reply
from tools.identity_sim.routes import Route, answer, facts_for, route_for
from tools.identity_sim.scenarios import Scenario, load_scenario
from tools.identity_sim.server import Exchange, TlsThreadingServer
from tools.identity_sim.session import PortPreservingSession, Timeout
from tools.identity_sim.tls import SimulatorCA
from tools.identity_sim.tokens import fingerprint

logger = logging.getLogger(__name__)


class IdentitySimulator:
    def __init__(
        self, *, ca_dir: str | os.PathLike[str] | None = None, host: str = "127.0.0.1", port: int = 0,
        latency_ms: float = 0.0, scenario: Scenario | str | os.PathLike[str] | Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`clock`: the date registered data is judged by (secret expiry, a relationship's end); default now."""
        self.directory = Directory()
        self.grants = IssuedGrants()
        self.recorder = Recorder()
        self._script = Script(tenant_id_of=self._tenant_id)
        self._state = SimulatorState(self.directory, self.grants, signing_key=secrets.token_bytes(32))
        if clock is not None:
            self._state.clock = clock
        self._latency: dict[str, float] = {ANY_TENANT: latency_ms / 1000}
        self._latency_lock = threading.Lock()
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            # It hands a token to anyone who asks: never reachable from another machine.
            raise ValueError(f"the identity simulator listens on loopback only, not {host!r}")
        self._host, self._port = host, port
        self._ca_dir, self._temp_dir = ca_dir, None
        self._server: TlsThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self.ca: SimulatorCA | None = None
        if scenario is not None:
            self.load_scenario(scenario)

    # Lifecycle
    def start(self) -> Self:
        if self._ca_dir is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="identity-sim-")
        self.ca = SimulatorCA(self._ca_dir if self._ca_dir is not None else self._temp_dir.name)
        self._server = TlsThreadingServer((self._host, self._port), context=self.ca.server_context(),
                                          handle=self._handle)
        self._state.authority_host = f"https://{self._host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="identity-sim", daemon=True)
        self._thread.start()
        logger.info("identity simulator listening on %s", self.authority_host)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stopping.set()  # releases hanging and sleeping requests
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def authority_host(self) -> str:
        """`https://127.0.0.1:PORT` (ENTRA_AUTHORITY_HOST for the app)."""
        if not self._state.authority_host:
            raise RuntimeError("start() the simulator first")
        return self._state.authority_host

    @property
    def port(self) -> int:
        return int(self.authority_host.rsplit(":", 1)[1])

    @property
    def ca_path(self) -> Path:
        assert self.ca is not None, "start() the simulator first"
        return self.ca.ca_path

    @property
    def ca_bundle_path(self) -> Path:
        """System CAs + the simulator's CA: what REQUESTS_CA_BUNDLE should point at."""
        assert self.ca is not None, "start() the simulator first"
        return self.ca.bundle_path

    @property
    def graph_endpoint(self) -> str:
        """Microsoft Graph is served on the same host (GRAPH_ENDPOINT for the app)."""
        return self.authority_host

    def authority(self, tenant: str) -> str:
        return f"{self.authority_host}/{tenant}"

    def session(self, *, timeout: Timeout = 30.0, pool_maxsize: int = 10) -> PortPreservingSession:
        """An HTTP client for MSAL that trusts this simulator and keeps the port of the userrealm request."""
        return PortPreservingSession(self.authority_host, verify=self.ca_bundle_path, timeout=timeout,
                                     pool_maxsize=pool_maxsize)

    # Registered data
    def add_tenant(self, tenant: Tenant | str) -> Tenant:
        """A Tenant, or a label: `add_tenant("contoso")` registers contoso.onmicrosoft.com with a fresh id."""
        return self.directory.add_tenant(Tenant.named(tenant) if isinstance(tenant, str) else tenant)

    def add_user(self, user: User) -> User:
        return self.directory.add_user(user)

    def update_user(self, upn: str, **changes: object) -> User:
        return self.directory.update_user(upn, **changes)

    def add_app(self, app: AppRegistration) -> AppRegistration:
        return self.directory.add_app(app)

    def update_app(self, client_id: str, **changes: object) -> AppRegistration:
        return self.directory.update_app(client_id, **changes)

    def set_roles(self, client_id: str, tenant: str, roles: list[str] | tuple[str, ...]) -> AppRegistration:
        return self.directory.set_roles(client_id, tenant, roles)

    def sign_in_as(self, upn: str, *, tenant: str | None = None) -> None:
        self.directory.sign_in_as(upn, tenant=tenant)

    def set_delegated_grant(
        self, client_id: str, tenant: str, scopes: tuple[str, ...] | list[str], *, user: str | None = None,
    ) -> None:
        """The delegated scopes granted to `client_id` in `tenant` (to `user`, or tenant-wide): what `scp` holds."""
        self.directory.set_delegated_grant(client_id, tenant, scopes, user=user)

    # Microsoft Graph data
    def add_relationship(self, partner_tenant: str, relationship: DelegatedAdminRelationship) -> None:
        """A delegated admin relationship the partner tenant (id or domain) lists in Graph."""
        partner_id = self._tenant_id(partner_tenant)
        if partner_id is None:
            raise KeyError(f"no tenant {partner_tenant!r}")
        self._state.relationships.add(partner_id, relationship)

    def clear_relationships(self) -> None:
        self._state.relationships.clear()

    def set_graph_page_size(self, size: int) -> None:
        """Relationships per page when the client asks no `$top`."""
        if not 1 <= size <= 300:
            raise ValueError("a Graph page holds 1 to 300 items")
        self._state.graph_page_size = size

    def issue_refresh_token(
        self, *, tenant: str, upn: str, client_id: str, single_use: bool = False,
        scopes: tuple[str, ...] = ("openid", "profile", "offline_access", "User.Read"),
    ) -> str:
        """A refresh token as a consent would have produced it (what the `token` method stores)."""
        tenant_id = self._tenant_id(tenant)
        if tenant_id is None:
            raise KeyError(f"no tenant {tenant!r}")
        return self.grants.issue_refresh_token(tenant_id=tenant_id, upn=upn, client_id=client_id, scopes=scopes,
                                               single_use=single_use)

    def revoke_refresh_token(self, value: str) -> None:
        self.grants.set_refresh_state(value, GrantState.REVOKED)  # 50173 from now on

    def expire_refresh_token(self, value: str) -> None:
        self.grants.set_refresh_state(value, GrantState.EXPIRED)  # 700082 from now on

    def revoke_user_sessions(self, upn: str) -> int:
        return self.grants.revoke_user(upn)

    # Scripted outcomes and latency
    def script(
        self, tenant: str | None, outcome: Outcome, *, times: int | None = None, user: str | None = None,
        client_id: str | None = None, grant_type: str | None = None, endpoint: Endpoint | str = Endpoint.TOKEN,
    ) -> Rule:
        """From now on, the matching requests (the next `times`, or all) get `outcome`; rules apply in order."""
        return self._script.add(Rule(outcome=outcome, endpoint=Endpoint(endpoint), tenant=tenant, user=user,
                                     client_id=client_id, grant_type=grant_type, times=times))

    def clear_script(self) -> None:
        self._script.clear()

    def set_latency(self, ms: float, *, tenant: str | None = None) -> None:
        """Delay of every token answer (a tenant's own delay, when set, replaces the global one)."""
        key = ANY_TENANT if tenant is None else (self._tenant_id(tenant) or tenant.casefold())
        with self._latency_lock:
            self._latency[key] = ms / 1000

    def load_scenario(self, source: Scenario | str | os.PathLike[str] | Mapping[str, Any]) -> None:
        scenario = source if isinstance(source, Scenario) else load_scenario(source)
        for tenant in scenario.tenants:
            self.add_tenant(tenant)
        for user in scenario.users:
            self.add_user(user)
        for app in scenario.apps:
            self.add_app(app)
        for entry in scenario.refresh_tokens:
            self.grants.issue_refresh_token(
                tenant_id=self._tenant_id(entry.tenant) or entry.tenant, upn=entry.upn, client_id=entry.client_id,
                scopes=entry.scopes, value=entry.value, state=GrantState(entry.state))
        for grant in scenario.delegated_grants:
            self.set_delegated_grant(grant.client_id, grant.tenant, grant.scopes, user=grant.user)
        for entry in scenario.relationships:
            self.add_relationship(entry.partner, entry.relationship)
        if scenario.graph_page_size is not None:
            self.set_graph_page_size(scenario.graph_page_size)
        for ref, upn in scenario.sign_in.items():
            self.sign_in_as(upn, tenant=None if ref == ANY_TENANT else ref)
        if scenario.latency_ms is not None:  # a file that names no latency leaves the one given to the simulator
            self.set_latency(scenario.latency_ms)
        for ref, ms in scenario.tenant_latency_ms.items():
            self.set_latency(ms, tenant=ref)
        for rule in scenario.rules:
            self._script.add(dataclasses.replace(rule, taken=0))  # a Scenario can be loaded more than once

    # Observation
    @property
    def requests(self) -> list[RecordedRequest]:
        return self.recorder.requests()

    def requests_for(self, tenant: str, *, endpoint: Endpoint | str | None = None) -> list[RecordedRequest]:
        """The requests about `tenant` (id or domain), optionally of one endpoint ("token", "discovery", ...)."""
        tenant_id = self._tenant_id(tenant)
        return [request for request in self.recorder.requests()
                if (request.tenant_id == tenant_id if tenant_id else request.tenant.casefold() == tenant.casefold())
                and (endpoint is None or request.endpoint == str(endpoint))]

    def counters(self) -> Counter[str]:
        return self.recorder.counters()

    def clear_recording(self) -> None:
        self.recorder.clear()

    # Serving
    def _handle(self, exchange: Exchange) -> None:
        url = urlsplit(exchange.target)
        query = _first_values(url.query)
        form = _first_values(exchange.body.decode("utf-8", "replace")) if exchange.method == "POST" else {}
        route = route_for(url.path)
        facts = facts_for(self._state, route, query, form, exchange.headers)
        correlation_id = exchange.headers.get("client-request-id")
        token = route.endpoint == Endpoint.TOKEN
        number = self.recorder.arrived(RecordedRequest(
            method=exchange.method, path=url.path, endpoint=str(route.endpoint), tenant=facts.tenant,
            tenant_id=facts.tenant_id, received_at=time.time(), grant_type=facts.grant_type,
            client_id=facts.client_id, user=facts.user,
            client_auth=read_client(form, exchange.headers).kind if token else None,
            refresh_token_fingerprint=fingerprint(form["refresh_token"]) if form.get("refresh_token") else None,
            scope=form.get("scope") or query.get("scope"), correlation_id=correlation_id))
        status, outcome_name = None, None
        try:
            outcome = self._script.take(facts)
            outcome_name = type(outcome).__name__ if outcome is not None else None
            self.recorder.scripted(number, outcome_name)
            try:
                reply = self._reply(exchange, route, facts, outcome, query=query, form=form,
                                    correlation_id=correlation_id)
            except Exception:  # a simulator bug: answered 500 and counted, so a test sees it
                logger.exception("identity simulator failed on %s %s", exchange.method, route.endpoint)
                reply = json_reply(500, {"error": "server_error", "error_description": "simulator fault"})
                outcome_name = "SimulatorFault"
            if reply is not None:
                # Recorded before the bytes leave: a client that has its answer finds it in the recording.
                status = reply.status
                self.recorder.finished(number, status=status, outcome=outcome_name)
                number = None
                exchange.send(reply)
        finally:
            if number is not None:
                self.recorder.finished(number, status=status, outcome=outcome_name)
            logger.debug("%s %s tenant=%s grant=%s -> %s", exchange.method, route.endpoint, route.tenant,
                         facts.grant_type, status)

    def _reply(
        self, exchange: Exchange, route: Route, facts: RequestFacts, outcome: Outcome | None, *,
        query: dict[str, str], form: dict[str, str], correlation_id: str | None,
    ) -> Reply | None:
        """The reply to send, or None when the connection was reset or dropped without one."""
        stopping = self._server.stopping if self._server is not None else threading.Event()
        # Each request sleeps in its own thread, holding no lock: N in flight wait concurrently.
        if route.endpoint == Endpoint.TOKEN and stopping.wait(self._latency_for(facts.tenant_id, route.tenant)):
            exchange.drop()
            return None
        if isinstance(outcome, Reset):
            exchange.reset()
            return None
        if isinstance(outcome, Hang):
            if outcome.seconds is None or stopping.wait(outcome.seconds):
                stopping.wait()
                exchange.drop()
                return None
            outcome = None  # held long enough: answer as if nothing was scripted
        return answer(self._state, route, facts, method=exchange.method, query=query, form=form,
                      headers=exchange.headers, outcome=outcome, correlation_id=correlation_id)

    def _latency_for(self, tenant_id: str | None, tenant_ref: str) -> float:
        with self._latency_lock:
            for key in (tenant_id, tenant_ref.casefold()):
                if key and key in self._latency:
                    return self._latency[key]
            return self._latency[ANY_TENANT]

    def _tenant_id(self, ref: str) -> str | None:
        tenant = self.directory.tenant(ref)
        return tenant.id if tenant is not None else None


def _first_values(text: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}
