"""A managed identity endpoint as App Service and Azure Functions provide it, on loopback HTTP.

The platform sets `IDENTITY_ENDPOINT` (a local http URL) and `IDENTITY_HEADER` (a secret); with both set,
azure-identity's ManagedIdentityCredential (through MSAL's ManagedIdentityClient) asks
`GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=<resource>[&client_id=<guid>]` with the secret in
`X-IDENTITY-HEADER`, and reads `access_token`, `expires_on` (seconds since the epoch, as a string),
`resource` and `token_type` from the JSON answer.

The simulator checks the secret, the api-version and the identity asked for, issues the token its
`tokens` mapping gives for the resource, and records every request (never the secret itself). Tokens
for Azurite's `--oauth basic` come from `storage_token()`: an unsigned JWT with the claims Azurite checks
(lifetime `nbf`/`exp`/`iat`, issuer prefix `https://sts.windows.net/`, audience `https://storage.azure.com`;
it decodes the token without checking a signature).
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.serving import ServedInThread
from tools.identity_sim.replies import Reply
from tools.identity_sim.server import Exchange, TlsThreadingServer

API_VERSION = "2019-08-01"
STORAGE_RESOURCE = "https://storage.azure.com"
VAULT_RESOURCE = "https://vault.azure.net"
TOKEN_PATH = "/msi/token"


@dataclass(frozen=True)
class TokenRequest:
    """One request the endpoint received. `header_ok` says whether it carried the right secret."""

    method: str
    path: str
    api_version: str | None
    resource: str | None
    client_id: str | None
    object_id: str | None
    mi_res_id: str | None
    header_ok: bool
    status: int


TokenSource = str | Callable[[TokenRequest], str]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_jwt(claims: Mapping[str, Any]) -> str:
    """A JWT with `alg: none` and an empty signature: good for consumers that decode without verifying."""
    header = {"typ": "JWT", "alg": "none"}
    return ".".join(
        (_b64url(json.dumps(header).encode()), _b64url(json.dumps(dict(claims)).encode()), "")
    )


def storage_token(
    *,
    tenant_id: str,
    object_id: str,
    client_id: str | None = None,
    audience: str = STORAGE_RESOURCE,
    lifetime: int = 3600,
    issued_at: int | None = None,
) -> str:
    """An access token for Azure Storage in the form Azurite's `--oauth basic` accepts."""
    now = int(time.time()) if issued_at is None else issued_at
    claims = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": now - 60,
        "nbf": now - 60,  # a minute of leeway for clocks, as Entra ID issues them
        "exp": now + lifetime,
        "oid": object_id,
        "sub": object_id,
        "tid": tenant_id,
        "idtyp": "app",
        "ver": "1.0",
    }
    if client_id:
        claims["appid"] = client_id
    return unsigned_jwt(claims)


def _normalise(resource: str) -> str:
    return resource.rstrip("/")


class ManagedIdentitySimulator(ServedInThread):
    thread_name = "msi-sim"

    """The App Service managed identity endpoint.

    `tokens` maps a resource (compared without a trailing slash) to the token to issue, or to a function
    of the TokenRequest that returns one. `client_ids` lists the user-assigned identities the app has;
    when it is non-empty, a request for any other client id, or for the system-assigned identity (no
    client id), is refused as the platform refuses an identity the app does not have.
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, TokenSource],
        client_ids: Collection[str] = (),
        identity_header: str | None = None,
        expires_in: int = 3600,
    ) -> None:
        self.tokens = {_normalise(resource): source for resource, source in tokens.items()}
        self.client_ids = {client_id.lower() for client_id in client_ids}
        self.identity_header = identity_header or secrets.token_urlsafe(24)
        self.expires_in = expires_in
        self._lock = threading.Lock()
        self._seen: list[TokenRequest] = []
        self._issued: list[str] = []

    # -- lifecycle (start/stop/with from ServedInThread) -----------------------------------------
    def _make_server(self) -> TlsThreadingServer:
        return TlsThreadingServer(("127.0.0.1", 0), context=None, handle=self._exchange,  # the platform's is http
                                  methods=("GET", "POST", "PUT", "DELETE"))

    @property
    def endpoint(self) -> str:
        """The value for IDENTITY_ENDPOINT."""
        return f"http://127.0.0.1:{self.port}{TOKEN_PATH}"

    def environment(self) -> dict[str, str]:
        """IDENTITY_ENDPOINT and IDENTITY_HEADER, as the platform sets them for the app."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.identity_header}

    # -- what tests see ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._seen)

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def granted(self) -> list[TokenRequest]:
        return [seen for seen in self.requests if seen.status == 200]

    # -- the endpoint -----------------------------------------------------------------------------
    def _exchange(self, exchange: Exchange) -> None:
        status, body = self._answer(exchange.method, exchange.target, exchange.headers)
        exchange.send(Reply(status, json.dumps(body).encode(), (("Content-Type", "application/json; charset=utf-8"),)))

    def _answer(self, method: str, target: str, headers: Any) -> tuple[int, dict[str, Any]]:
        url = urlsplit(target)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        header_ok = secrets.compare_digest(
            (headers.get("X-IDENTITY-HEADER") or "").encode(), self.identity_header.encode()
        )
        seen = TokenRequest(
            method=method,
            path=url.path,
            api_version=query.get("api-version"),
            resource=query.get("resource"),
            client_id=query.get("client_id"),
            object_id=query.get("object_id") or query.get("principal_id"),
            mi_res_id=query.get("mi_res_id"),
            header_ok=header_ok,
            status=0,
        )
        status, body = self._decide(seen)
        with self._lock:
            self._seen.append(replace(seen, status=status))
            if status == 200:
                self._issued.append(body["access_token"])
        return status, body

    def _decide(self, seen: TokenRequest) -> tuple[int, dict[str, Any]]:
        def refuse(status: int, message: str) -> tuple[int, dict[str, Any]]:
            return status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}

        if seen.method != "GET" or seen.path != TOKEN_PATH:
            return refuse(404, f"No endpoint {seen.method} {seen.path}.")
        if not seen.header_ok:
            return refuse(401, "The X-IDENTITY-HEADER header is missing or wrong.")
        if seen.api_version != API_VERSION:
            return refuse(400, f"api-version must be {API_VERSION}, not {seen.api_version!r}.")
        if not seen.resource:
            return refuse(400, "The 'resource' query parameter is missing.")
        if seen.object_id or seen.mi_res_id:
            return refuse(400, "This app's identities are named by client_id.")
        if self.client_ids:
            if not seen.client_id:
                return refuse(400, "The app has no system-assigned identity; name a user-assigned one.")
            if seen.client_id.lower() not in self.client_ids:
                return refuse(400, f"No user-assigned identity with client id {seen.client_id} is assigned.")
        source = self.tokens.get(_normalise(seen.resource))
        if source is None:
            return refuse(400, f"No token can be issued for resource {seen.resource}.")
        token = source(seen) if callable(source) else source
        return 200, {
            "access_token": token,
            "expires_on": str(int(time.time()) + self.expires_in),
            "resource": seen.resource,
            "token_type": "Bearer",
            "client_id": seen.client_id or "",
        }
