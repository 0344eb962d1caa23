"""The deployed configuration end to end: identity-based storage and Key Vault through a managed identity.

The local host runs with the settings Azure gives the app: `AzureWebJobsStorage__tableServiceUri` /
`__queueServiceUri` / `__credential=managedidentity` / `__clientId`, `KEY_VAULT_URL`, and the platform's
`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`. Nothing in the app is switched for the test: the real
DefaultAzureCredential -> ManagedIdentityCredential -> MSAL asks the managed identity simulator for tokens,
azure-data-tables carries them to Azurite (HTTPS, `--oauth basic`), and SecretClient answers the Key Vault
simulator's 401 challenge with resource verification on.

Why the vault has a DNS name: SecretClient accepts a challenge only when the vault's host lies under the
challenge's resource (`<name>.vault.azure.net` under `https://vault.azure.net`). No resource passes that
check for a vault at `127.0.0.1`, not even one naming 127.0.0.1 itself (a test below shows the app refusing
it), and this machine resolves no dotted name to loopback.
So KEY_VAULT_URL is `https://<random>.vault.azure.net/` and the app reaches it through the standard
HTTPS_PROXY: a loopback CONNECT proxy that tunnels exactly that name to the simulator and refuses anything
else. TLS runs end to end inside the tunnel, against a certificate for that name from the test CA; every
other endpoint is loopback and bypasses the proxy (NO_PROXY).

The app's environment is built from scratch: no AZURE_* variable, proxy, CA setting or home directory
(an `az login`) of the outer environment reaches it, and local.settings.json is not read.
"""
from __future__ import annotations

import json
import os
import selectors
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableServiceClient

from shared.adapters.secret_store_names import store_name
from shared.domain.secrets import SecretKind
from tests.support.devserver_process import LocalHost, start_local_host
from tests.support.keyvault_sim import KeyVaultSimulator
from tests.support.managed_identity_sim import (
    API_VERSION,
    STORAGE_RESOURCE,
    VAULT_RESOURCE,
    ManagedIdentitySimulator,
    storage_token,
)
from tests.support.serving import ServedInThread
from tests.support.tls import TestCA
from tools.azurite import Azurite, start_azurite

pytestmark = pytest.mark.e2e

TENANT_ID = "3f6c1a52-7a0e-4b8f-9d7e-2c1b0a9e8d11"  # the directory the identity lives in
START_TIMEOUT = 60.0
HTTP_TIMEOUT = 60.0


# --- harness ---------------------------------------------------------------------------------------------


class StaticToken:
    """A TokenCredential for the test's own look at Azurite."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


def table_service(azurite: Azurite, ca: TestCA, token: str) -> TableServiceClient:
    return TableServiceClient(
        endpoint=azurite.table_endpoint,
        credential=StaticToken(token),
        connection_verify=str(ca.bundle_path),
        retry_total=0,
    )


def every_entity_as_text(service: TableServiceClient) -> tuple[list[str], str]:
    """The table names and every entity of every table as one JSON text."""
    names, text = [], ""
    for table in service.list_tables():
        names.append(table.name)
        rows = service.get_table_client(table.name).list_entities()
        text += "".join(json.dumps(dict(row), sort_keys=True, default=str) for row in rows)
    return names, text


class VaultTunnel(ServedInThread):
    """HTTPS_PROXY for the app: tunnels `CONNECT <vault_host>:443` to the simulator and refuses the rest."""

    IDLE_SECONDS = 120.0  # a tunnel with no traffic for this long is closed
    thread_name = "vault-tunnel"

    def __init__(self, vault_host: str, target_port: int) -> None:
        self.vault_host = vault_host.lower()
        self.target_port = target_port
        self._lock = threading.Lock()
        self.connects: list[str] = []
        self.refused: list[str] = []

    def _make_server(self) -> socketserver.BaseServer:
        tunnel = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                tunnel._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        return Server(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk or len(head) > 16384:
                return
            head += chunk
        request_line, _, _ = head.partition(b"\r\n")
        parts = request_line.decode("latin-1").split()
        target = parts[1].lower() if len(parts) == 3 else request_line.decode("latin-1")
        if len(parts) != 3 or parts[0] != "CONNECT" or target != f"{self.vault_host}:443":
            with self._lock:
                self.refused.append(target)
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        with self._lock:
            self.connects.append(target)
        with socket.create_connection(("127.0.0.1", self.target_port), timeout=10) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            early = head.partition(b"\r\n\r\n")[2]
            if early:
                upstream.sendall(early)
            self._pump(client, upstream)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(a, selectors.EVENT_READ, b)
            selector.register(b, selectors.EVENT_READ, a)
            while True:
                events = selector.select(timeout=self.IDLE_SECONDS)
                if not events:
                    return
                for key, _ in events:
                    try:
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        key.data.sendall(data)
                    except OSError:
                        return


def hermetic_env(tmp: Path, settings: Mapping[str, str]) -> dict[str, str]:
    """Only what a Python process needs, plus `settings`: nothing of the outer environment leaks in."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), "/usr/bin", "/bin")),
        "HOME": str(home),  # no `az login`, no shared token cache to fall back to
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }


def launch(tmp: Path, settings: Mapping[str, str], *, wait: bool = True) -> LocalHost:
    """Start the local host with only `settings` (no local.settings.json) on a free port."""
    return start_local_host(tmp, hermetic_env(tmp, settings), inherit_env=False, args=["--log-level", "DEBUG"],
                            wait=wait, timeout=START_TIMEOUT)


@dataclass
class Deployment:
    """The app's settings and the services standing in for Azure."""

    ca: TestCA
    azurite: Azurite
    msi: ManagedIdentitySimulator
    vault: KeyVaultSimulator
    tunnel: VaultTunnel
    vault_host: str
    client_id: str
    principal_id: str

    @property
    def vault_url(self) -> str:
        return f"https://{self.vault_host}/"

    def settings(self, tmp: Path, **overrides: str) -> dict[str, str]:
        return {
            "AzureWebJobsStorage": "",  # empty: the identity form below is used
            "AzureWebJobsStorage__tableServiceUri": self.azurite.table_endpoint,
            "AzureWebJobsStorage__queueServiceUri": self.azurite.queue_endpoint,
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": self.client_id,
            "KEY_VAULT_URL": self.vault_url,
            "LOCAL_SECRETS_FILE": str(tmp / "local-secrets-must-not-exist.json"),
            **self.msi.environment(),
            "REQUESTS_CA_BUNDLE": str(self.ca.bundle_path),
            "SSL_CERT_FILE": str(self.ca.bundle_path),
            "HTTPS_PROXY": self.tunnel.url,
            "NO_PROXY": "127.0.0.1,localhost",
            "VERIFY_SCHEDULE": "0 0 0 1 1 *",
            # The local host polls queues through a connection string only (README, "Local host").
            "AzureWebJobs.verify_worker.Disabled": "true",
            "AzureWebJobs.verify_poisoned.Disabled": "true",
            **overrides,
        }

    def storage_token(self) -> str:
        return storage_token(tenant_id=TENANT_ID, object_id=self.principal_id, client_id=self.client_id)


def start_oauth_azurite(ca: TestCA, directory: Path) -> Azurite:
    leaf = ca.ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = directory / "azurite-cert.pem", directory / "azurite-key.pem"
    cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_path))
    return start_azurite(cert_path=cert_path, key_path=key_path, oauth=True)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("identity")
    ca = TestCA(base / "ca")
    client_id, principal_id = str(uuid.uuid4()), str(uuid.uuid4())
    vault_host = f"kv-tenantauth-{uuid.uuid4().hex[:10]}.vault.azure.net"
    vault = KeyVaultSimulator(ca, token=f"kv-{uuid.uuid4().hex}", tenant_id=TENANT_ID,
                              hostnames=(vault_host, "127.0.0.1", "localhost")).start()
    azurite = None
    tunnel = msi = None
    try:
        azurite = start_oauth_azurite(ca, base)
        tunnel = VaultTunnel(vault_host, int(vault.url.rsplit(":", 1)[1])).start()
        msi = ManagedIdentitySimulator(
            tokens={
                STORAGE_RESOURCE: lambda _request: storage_token(
                    tenant_id=TENANT_ID, object_id=principal_id, client_id=client_id),
                VAULT_RESOURCE: vault.token,
            },
            client_ids=[client_id],
        ).start()
        yield Deployment(ca, azurite, msi, vault, tunnel, vault_host, client_id, principal_id)
    finally:
        for service in (msi, tunnel, azurite):
            if service is not None:
                service.stop()
        vault.stop()


@pytest.fixture(scope="module")
def app(deployment, tmp_path_factory) -> Iterator[LocalHost]:
    tmp = tmp_path_factory.mktemp("identity-app")
    host = launch(tmp, deployment.settings(tmp))
    try:
        yield host
    finally:
        host.stop()


@dataclass
class Flow:
    """What one operator session did over HTTP, and what the tables held along the way."""

    password_id: str
    application_id: str
    secrets: dict[str, str]
    responses: dict[str, requests.Response] = field(default_factory=dict)
    tables_after_create: str = ""
    tables_at_end: str = ""
    table_names: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def flow(app, deployment) -> Flow:
    marker = uuid.uuid4().hex
    done = Flow(
        password_id=f"pw-{marker[:10]}",
        application_id=f"app-{marker[:10]}",
        secrets={"password": f"Pw!{marker}-alpha", "applicationSecret": f"App~{marker}.bravo"},
    )
    bodies = {
        done.password_id: {"tenantId": "contoso.onmicrosoft.com", "authenticationMethod": "password",
                           "m365Email": "admin@contoso.onmicrosoft.com",
                           "password": done.secrets["password"]},
        done.application_id: {"tenantId": str(uuid.uuid4()), "authenticationMethod": "application",
                              "applicationId": str(uuid.uuid4()),
                              "applicationSecret": done.secrets["applicationSecret"]},
    }
    r = done.responses
    for customer_id, body in bodies.items():
        r[f"create {customer_id}"] = requests.put(app.url(f"/api/tenants/{customer_id}"), json=body,
                                                  timeout=HTTP_TIMEOUT)
    for customer_id in bodies:
        r[f"read {customer_id}"] = requests.get(app.url(f"/api/tenants/{customer_id}"), timeout=HTTP_TIMEOUT)
    r["list"] = requests.get(app.url("/api/status"), timeout=HTTP_TIMEOUT)
    service = table_service(deployment.azurite, deployment.ca, deployment.storage_token())
    done.table_names, done.tables_after_create = every_entity_as_text(service)
    r["delete"] = requests.delete(app.url(f"/api/tenants/{done.password_id}"), timeout=HTTP_TIMEOUT)
    r["read deleted"] = requests.get(app.url(f"/api/tenants/{done.password_id}"), timeout=HTTP_TIMEOUT)
    r["list after delete"] = requests.get(app.url("/api/status"), timeout=HTTP_TIMEOUT)
    _, done.tables_at_end = every_entity_as_text(service)
    return done


# --- the harness is strict, so a pass means something -----------------------------------------------


def test_azurite_checks_the_token_it_is_given(deployment):
    good = table_service(deployment.azurite, deployment.ca, deployment.storage_token())
    list(good.list_tables())  # accepted

    wrong_audience = storage_token(tenant_id=TENANT_ID, object_id=deployment.principal_id,
                                   audience=VAULT_RESOURCE)
    expired = storage_token(tenant_id=TENANT_ID, object_id=deployment.principal_id,
                            issued_at=int(time.time()) - 7200)
    for token in (wrong_audience, expired, "not-a-jwt"):
        with pytest.raises(HttpResponseError) as refused:
            list(table_service(deployment.azurite, deployment.ca, token).list_tables())
        assert refused.value.status_code == 403


def test_the_identity_endpoint_checks_what_the_platform_checks():
    client_id = str(uuid.uuid4())
    with ManagedIdentitySimulator(tokens={STORAGE_RESOURCE: "token"}, client_ids=[client_id]) as msi:
        statuses = _identity_endpoint_answers(msi, client_id)
    assert statuses == {"right": 200, "no header": 401, "wrong header": 401, "old api-version": 400,
                        "other identity": 400, "system-assigned": 400, "other resource": 400}


def _identity_endpoint_answers(msi: ManagedIdentitySimulator, client_id: str) -> dict[str, int]:
    query = {"api-version": API_VERSION, "resource": STORAGE_RESOURCE, "client_id": client_id}
    header = {"X-IDENTITY-HEADER": msi.identity_header}
    cases = {
        "right": (query, header),
        "no header": (query, {}),
        "wrong header": (query, {"X-IDENTITY-HEADER": "guess"}),
        "old api-version": ({**query, "api-version": "2017-09-01"}, header),
        "other identity": ({**query, "client_id": str(uuid.uuid4())}, header),
        "system-assigned": ({k: v for k, v in query.items() if k != "client_id"}, header),
        "other resource": ({**query, "resource": "https://management.azure.com/"}, header),
    }
    return {
        name: requests.get(msi.endpoint, params=params, headers=headers, timeout=10).status_code
        for name, (params, headers) in cases.items()
    }


# --- the deployed configuration works ---------------------------------------------------------------------


def test_customers_round_trip_over_identity_based_storage_and_key_vault(flow):
    r = flow.responses
    assert r[f"create {flow.password_id}"].status_code == 201, r[f"create {flow.password_id}"].text
    assert r[f"create {flow.application_id}"].status_code == 201, r[f"create {flow.application_id}"].text
    password_view = r[f"read {flow.password_id}"].json()
    application_view = r[f"read {flow.application_id}"].json()
    assert password_view == r[f"create {flow.password_id}"].json()
    assert application_view == r[f"create {flow.application_id}"].json()
    assert password_view["authenticationMethod"] == "password"
    assert password_view["secretsConfigured"] == ["password"]
    assert application_view["authenticationMethod"] == "application"
    assert application_view["secretsConfigured"] == ["applicationSecret"]
    assert application_view["lastVerificationStatus"] == "notVerified"

    listed = r["list"].json()
    assert r["list"].status_code == 200
    assert {t["customerId"] for t in listed["tenants"]} == {flow.password_id, flow.application_id}
    assert listed["summary"]["total"] == 2

    assert r["delete"].status_code == 204, r["delete"].text
    assert r["read deleted"].status_code == 404
    assert r["read deleted"].json()["error"]["code"] == "notFound"
    remaining = r["list after delete"].json()
    assert [t["customerId"] for t in remaining["tenants"]] == [flow.application_id]


def test_tokens_come_from_the_user_assigned_identity_for_storage_and_vault(flow, deployment):
    asked = deployment.msi.requests
    assert asked, "the app asked the managed identity endpoint for nothing"
    assert all(seen.status == 200 for seen in asked), [(s.resource, s.status) for s in asked]
    assert all(seen.header_ok and seen.api_version == API_VERSION for seen in asked)
    assert {seen.client_id for seen in asked} == {deployment.client_id}
    resources = {seen.resource.rstrip("/") for seen in asked if seen.resource}
    assert resources == {STORAGE_RESOURCE, VAULT_RESOURCE}

    # The vault saw the challenge first, then only the token the identity endpoint issued for it.
    vault_requests = deployment.vault.requests
    assert vault_requests[0].status == 401 and not vault_requests[0].authorized
    assert any(seen.authorized for seen in vault_requests)
    assert all(seen.authorized for seen in vault_requests[1:] if seen.status != 401)
    # Vault traffic went through the tunnel to its DNS name, and nothing else tried the proxy.
    assert deployment.tunnel.connects and set(deployment.tunnel.connects) == {f"{deployment.vault_host}:443"}
    assert deployment.tunnel.refused == []


def test_secrets_live_in_the_vault_under_their_names_and_leave_with_their_customer(flow, deployment):
    vault = deployment.vault
    kept = vault.secret(store_name(flow.application_id, SecretKind.APPLICATION_SECRET))
    assert kept is not None and kept.state == "active"
    assert kept.latest["value"] == flow.secrets["applicationSecret"]
    assert kept.latest.get("enabled", True)
    assert kept.latest["tags"] == {"customerId": flow.application_id, "kind": "applicationSecret"}

    gone = vault.secret(store_name(flow.password_id, SecretKind.PASSWORD))
    assert gone is not None, "the password never reached the vault"
    assert gone.latest["value"] == flow.secrets["password"]
    # Deleting the customer retired every version its record named: disabled, so never readable again.
    assert [version.get("enabled", True) for version in gone.versions] == [False] * len(gone.versions)

    names = {name.lower() for name in vault.names()}
    assert names == {store_name(flow.application_id, SecretKind.APPLICATION_SECRET),
                     store_name(flow.password_id, SecretKind.PASSWORD)}


def test_secrets_reach_no_table_response_log_or_local_file(flow, app, deployment):
    assert {"Tenants"} <= set(flow.table_names)
    assert flow.password_id in flow.tables_after_create and flow.application_id in flow.tables_after_create
    assert flow.application_id in flow.tables_at_end
    log = app.log_text()
    assert f"PUT /api/tenants/{flow.password_id}" in log, "the log searched is the one with the requests"
    for label, value in flow.secrets.items():
        assert value not in flow.tables_after_create, f"{label} reached a table"
        assert value not in flow.tables_at_end, f"{label} reached a table"
        for step, response in flow.responses.items():
            assert value not in response.text, f"{label} reached the response to {step}"
            assert value not in json.dumps(dict(response.headers)), f"{label} reached a header of {step}"
        assert value not in log, f"{label} reached the log"
    for credential in (deployment.msi.identity_header, *deployment.msi.issued_tokens):
        assert credential not in log, "an identity secret or access token reached the log"
    local_store = app.log_path.parent / "local-secrets-must-not-exist.json"
    assert not local_store.exists(), "secrets went to the local development store"


# --- failures an operator can meet ---------------------------------------------------------------------


def test_a_challenge_for_another_resource_gets_no_token(deployment, tmp_path):
    """Verification stays on: a vault at 127.0.0.1 whose challenge names 127.0.0.1 itself is not trusted."""
    impostor = KeyVaultSimulator(deployment.ca, token=deployment.vault.token, tenant_id=TENANT_ID).start()
    try:
        impostor_url = impostor.challenge_resource = impostor.url
        host = launch(tmp_path, deployment.settings(tmp_path, KEY_VAULT_URL=impostor_url + "/"))
        try:
            body = {"tenantId": "contoso.com", "authenticationMethod": "password",
                    "m365Email": "a@contoso.com", "password": f"Pw!{uuid.uuid4().hex}"}
            response = requests.put(host.url("/api/tenants/impostor-check"), json=body, timeout=HTTP_TIMEOUT)
        finally:
            host.stop()
        log = host.log_text()
        seen = impostor.requests
    finally:
        impostor.stop()
    assert seen, "the app never reached the vault"
    assert not any(request.authorized for request in seen), "a token went to an unverified vault"
    assert all("authorization: bearer" not in request.head.lower() for request in seen)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "secretStoreUnavailable"
    assert "KEY_VAULT_URL must be the vault's own URL" in response.json()["error"]["message"]
    assert f"Key Vault at {impostor_url}/ was not trusted" in log
    assert "verify_challenge_resource=False" not in log  # the SDK's advice is not passed on
    assert body["password"] not in response.text and body["password"] not in log


def test_storage_down_answers_503_storage_unavailable(deployment, tmp_path):
    own = start_oauth_azurite(deployment.ca, tmp_path)
    try:
        host = launch(tmp_path / "app", deployment.settings(tmp_path, **{
            "AzureWebJobsStorage__tableServiceUri": own.table_endpoint,
            "AzureWebJobsStorage__queueServiceUri": own.queue_endpoint,
        }))
        try:
            before = requests.get(host.url("/api/tenants/absent-before"), timeout=HTTP_TIMEOUT)
            own.stop()
            during = requests.get(host.url("/api/tenants/absent-during"), timeout=HTTP_TIMEOUT)
        finally:
            host.stop()
    finally:
        own.stop()
    assert before.status_code == 404, before.text  # storage answered while it was up
    assert during.status_code == 503, during.text
    assert during.json()["error"]["code"] == "storageUnavailable"
    assert str(own.table_port) not in during.text


def test_identity_storage_off_loopback_without_key_vault_url_refuses_to_start(tmp_path):
    """The start-up check: deployed storage and no KEY_VAULT_URL is a configuration error, found before any
    network call (the identity endpoint it could reach is never asked)."""
    with ManagedIdentitySimulator(tokens={STORAGE_RESOURCE: "unused"}) as msi:
        settings = {
            "AzureWebJobsStorage": "",
            "AzureWebJobsStorage__tableServiceUri": "https://sttenantauth.table.core.windows.net",
            "AzureWebJobsStorage__queueServiceUri": "https://sttenantauth.queue.core.windows.net",
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": str(uuid.uuid4()),
            "LOCAL_SECRETS_FILE": str(tmp_path / "local-secrets.json"),
            **msi.environment(),
        }
        host = launch(tmp_path, settings, wait=False)
        status = host.process.wait(timeout=START_TIMEOUT)
        asked = msi.requests
    assert status == 2, host.log_text()
    assert "Cannot start: KEY_VAULT_URL is not set." in host.log_text()
    assert "Listening on" not in host.log_text()
    assert asked == []
    assert not (tmp_path / "local-secrets.json").exists()
