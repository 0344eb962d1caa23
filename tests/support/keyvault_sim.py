"""A Key Vault secrets simulator: real HTTPS on 127.0.0.1, so the real SecretClient code paths run.

It speaks the REST calls SecretClient makes for set / get / delete (and the delete poller's
get-deleted), recover (and its poller's get) and purge, with the service's soft-delete rules:
a deleted name answers 409 `Conflict` to a set until it is recovered (purge protection is on unless
told otherwise). Names are case-insensitive, as in the service. Every request must carry
`Authorization: Bearer <token>`; without it the answer is Key Vault's 401 challenge, so the client's
challenge policy runs. Deletion and recovery can be told to take a number of polls (counted, never
timed). Every request is recorded, and the vault can be told to fail (an HTTP status, or a dropped
connection).
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.serving import ServedInThread
from tests.support.tls import TestCA
from tools.identity_sim.replies import Reply
from tools.identity_sim.server import Exchange, TlsThreadingServer

DEFAULT_TOKEN = "kv-sim-access-token"
DEFAULT_TENANT = "72f988bf-0000-4000-8000-00000000cafe"
RESOURCE = "https://vault.azure.net"
RETENTION_DAYS = 90
_NAME = re.compile(r"[0-9a-zA-Z-]{1,127}")


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str  # path and query, as received
    authorized: bool
    status: int | None  # None when the connection was dropped
    head: str  # request line and headers as received (never the body)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path


@dataclass
class StoredSecret:
    name: str  # the case it was first created with, as the service keeps it
    versions: list[dict[str, Any]] = field(default_factory=list)
    state: str = "active"  # active | deleting | deleted | recovering
    pending_polls: int = 0
    deleted_at: int | None = None

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[-1]


class _Reply(Exception):
    def __init__(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, code: str, message: str) -> _Reply:
    return _Reply(status, {"error": {"code": code, "message": message}})


def _not_found(name: str) -> _Reply:
    return _error(
        404, "SecretNotFound",
        f"A secret with (name/id) {name} was not found in this key vault. If you recently deleted this "
        "secret you may be able to recover it using the correct recovery command.",
    )


def _deleted_not_found(name: str) -> _Reply:
    return _error(404, "SecretNotFound", f"Deleted Secret not found: {name}")


class KeyVaultSimulator(ServedInThread):
    thread_name = "keyvault-sim"

    def __init__(
        self,
        ca: TestCA,
        *,
        token: str = DEFAULT_TOKEN,
        tenant_id: str = DEFAULT_TENANT,
        deletion_polls: int = 0,
        recovery_polls: int = 0,
        purge_protection: bool = True,
        challenge_resource: str = RESOURCE,
        hostnames: tuple[str, ...] = ("127.0.0.1", "localhost"),
    ) -> None:
        """`challenge_resource` is the `resource` its 401 challenge names; `hostnames` are the names its TLS
        certificate holds (add a vault's DNS name when clients reach the simulator through a proxy)."""
        self.token = token
        self.challenge_resource = challenge_resource
        self.hostnames = tuple(hostnames)
        self.tenant_id = tenant_id
        self.deletion_polls = deletion_polls
        self.recovery_polls = recovery_polls
        self.purge_protection = purge_protection
        self._ca = ca
        self._lock = threading.Lock()
        self._secrets: dict[str, StoredSecret] = {}
        self._seen: list[SeenRequest] = []
        self._failure: tuple[str, int] | None = None

    # -- lifecycle (start/stop/with from ServedInThread) -----------------------------------------
    def _make_server(self) -> TlsThreadingServer:
        return TlsThreadingServer(("127.0.0.1", 0), context=self._ca.server_context(*self.hostnames),
                                  handle=self._exchange, methods=("GET", "PUT", "DELETE", "POST", "PATCH"))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # -- what tests see and steer -----------------------------------------------------------------
    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    def fail(self, *, status: int = 503, drop: bool = False) -> None:
        """Answer every request with `status` (or drop its connection) until heal()."""
        with self._lock:
            self._failure = ("drop", 0) if drop else ("status", status)

    def heal(self) -> None:
        with self._lock:
            self._failure = None

    def secret(self, name: str) -> StoredSecret | None:
        with self._lock:
            return self._secrets.get(name.lower())

    def names(self) -> list[str]:
        with self._lock:
            return sorted(s.name for s in self._secrets.values())

    # -- the service ------------------------------------------------------------------------------
    def _handle(self, method: str, target: str, headers: Any, body: bytes) -> _Reply:
        with self._lock:
            if self._failure is not None:
                kind, status = self._failure
                if kind == "drop":
                    raise ConnectionAbortedError("told to drop the connection")
                raise _error(status, "ServiceUnavailable", "The service is temporarily unavailable.")
            if headers.get("Authorization") != f"Bearer {self.token}":
                challenge = (
                    f'Bearer authorization="https://login.microsoftonline.com/{self.tenant_id}", '
                    f'resource="{self.challenge_resource}"'
                )
                message = "AKV10000: Request is missing a Bearer or PoP token."
                body = {"error": {"code": "Unauthorized", "message": message}}
                raise _Reply(401, body, {"WWW-Authenticate": challenge})
            url = urlsplit(target)
            if not parse_qs(url.query).get("api-version"):
                raise _error(400, "BadParameter", "The 'api-version' query parameter is missing.")
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if len(parts) >= 2 and parts[1] and not _NAME.fullmatch(parts[1]):
                raise _error(400, "BadParameter", f"The request URI contains an invalid name: {parts[1]}")
            route = (method, parts[0], len(parts))
            if route == ("PUT", "secrets", 2):
                return self._set(parts[1], body)
            if route == ("GET", "secrets", 1):
                return self._list_names()
            if route == ("GET", "secrets", 3) and parts[2] == "versions":
                return self._list_versions(parts[1])
            if method == "GET" and parts[0] == "secrets" and len(parts) in (2, 3):
                return self._get(parts[1], parts[2] if len(parts) == 3 else "")
            if route == ("PATCH", "secrets", 3):
                return self._update(parts[1], parts[2], body)
            if route == ("DELETE", "secrets", 2):
                return self._delete(parts[1])
            if route == ("GET", "deletedsecrets", 2):
                return self._get_deleted(parts[1])
            if route == ("DELETE", "deletedsecrets", 2):
                return self._purge(parts[1])
            if route == ("POST", "deletedsecrets", 3) and parts[2] == "recover":
                return self._recover(parts[1])
            raise _error(404, "NotFound", f"The simulator does not serve {method} {url.path}.")

    def _base(self) -> str:
        return self.url

    def _bundle(self, secret: StoredSecret, version: dict[str, Any], *, with_value: bool) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "id": f"{self._base()}/secrets/{secret.name}/{version['version']}",
            "attributes": {
                "enabled": version.get("enabled", True),
                "created": version["created"],
                "updated": version["created"],
                "recoveryLevel": "Recoverable" if self.purge_protection else "Recoverable+Purgeable",
                "recoverableDays": RETENTION_DAYS,
            },
            "tags": dict(version["tags"]),
        }
        if version["contentType"] is not None:
            bundle["contentType"] = version["contentType"]
        if with_value:
            bundle["value"] = version["value"]
        return bundle

    def _deleted_bundle(self, secret: StoredSecret) -> dict[str, Any]:
        bundle = self._bundle(secret, secret.latest, with_value=False)
        assert secret.deleted_at is not None
        bundle.update(
            recoveryId=f"{self._base()}/deletedsecrets/{secret.name}",
            deletedDate=secret.deleted_at,
            scheduledPurgeDate=secret.deleted_at + RETENTION_DAYS * 86400,
        )
        return bundle

    def _set(self, name: str, body: bytes) -> _Reply:
        try:
            params = json.loads(body or b"null")
        except ValueError:
            params = None
        if not isinstance(params, dict) or not isinstance(params.get("value"), str):
            raise _error(400, "BadParameter", "The request body must be JSON with a string 'value'.")
        secret = self._secrets.get(name.lower())
        if secret is not None and secret.state == "deleting":
            raise _error(409, "Conflict", "Secret is currently being deleted.")
        if secret is not None and secret.state == "recovering":
            raise _error(409, "Conflict", "Secret is currently being recovered.")
        if secret is not None and secret.state == "deleted":
            raise _error(
                409, "Conflict",
                f"Secret {secret.name} is currently in a deleted but recoverable state, and its name "
                "cannot be reused; in this state, the secret can only be recovered or purged.",
            )
        if secret is None:
            secret = self._secrets[name.lower()] = StoredSecret(name=name)
        version = {
            "version": uuid.uuid4().hex,
            "value": params["value"],
            "contentType": params.get("contentType"),
            "tags": params.get("tags") or {},
            "created": int(time.time()),
        }
        secret.versions.append(version)
        return _Reply(200, self._bundle(secret, version, with_value=True))

    def _get(self, name: str, version_id: str) -> _Reply:
        secret = self._secrets.get(name.lower())
        if secret is not None and secret.state == "recovering":
            if secret.pending_polls > 0:
                secret.pending_polls -= 1
                raise _not_found(name)
            secret.state = "active"
        if secret is None or secret.state != "active":
            raise _not_found(name)
        version = secret.latest if not version_id else self._version(secret, version_id)
        if not version.get("enabled", True):
            # What Key Vault answers for a disabled version: 403, not 404.
            raise _error(403, "Forbidden", "Operation get is not allowed on a disabled secret.")
        return _Reply(200, self._bundle(secret, version, with_value=True))

    def _version(self, secret: StoredSecret, version_id: str) -> dict[str, Any]:
        for version in secret.versions:
            if version["version"] == version_id:
                return version
        raise _not_found(secret.name)

    def _active(self, name: str) -> StoredSecret:
        secret = self._secrets.get(name.lower())
        if secret is None or secret.state != "active":
            raise _not_found(name)
        return secret

    def _update(self, name: str, version_id: str, body: bytes) -> _Reply:
        """PATCH: only the `enabled` attribute, which is all the app changes."""
        version = self._version(self._active(name), version_id)
        attributes = (json.loads(body or b"{}") or {}).get("attributes") or {}
        if "enabled" in attributes:
            version["enabled"] = bool(attributes["enabled"])
        return _Reply(200, self._bundle(self._active(name), version, with_value=False))

    def _item(self, secret: StoredSecret, version: dict[str, Any], *, versioned: bool) -> dict[str, Any]:
        item = self._bundle(secret, version, with_value=False)
        if not versioned:
            item["id"] = f"{self._base()}/secrets/{secret.name}"
        return item

    def _list_names(self) -> _Reply:
        items = [self._item(s, s.latest, versioned=False) for s in self._secrets.values() if s.state == "active"]
        return _Reply(200, {"value": items, "nextLink": None})

    def _list_versions(self, name: str) -> _Reply:
        secret = self._active(name)
        return _Reply(200, {"value": [self._item(secret, v, versioned=True) for v in secret.versions],
                            "nextLink": None})

    def _delete(self, name: str) -> _Reply:
        secret = self._secrets.get(name.lower())
        if secret is None or secret.state != "active":
            raise _not_found(name)
        secret.deleted_at = int(time.time())
        secret.state, secret.pending_polls = (
            ("deleting", self.deletion_polls) if self.deletion_polls else ("deleted", 0)
        )
        return _Reply(200, self._deleted_bundle(secret))

    def _get_deleted(self, name: str) -> _Reply:
        secret = self._secrets.get(name.lower())
        if secret is not None and secret.state == "deleting":
            if secret.pending_polls > 0:
                secret.pending_polls -= 1
                raise _deleted_not_found(name)
            secret.state = "deleted"
        if secret is None or secret.state != "deleted":
            raise _deleted_not_found(name)
        return _Reply(200, self._deleted_bundle(secret))

    def _recover(self, name: str) -> _Reply:
        secret = self._secrets.get(name.lower())
        if secret is not None and secret.state == "deleting":
            raise _error(409, "Conflict", "Secret is currently being deleted.")
        if secret is None or secret.state != "deleted":
            raise _deleted_not_found(name)
        secret.deleted_at = None
        secret.state, secret.pending_polls = (
            ("recovering", self.recovery_polls) if self.recovery_polls else ("active", 0)
        )
        return _Reply(200, self._bundle(secret, secret.latest, with_value=False))

    def _purge(self, name: str) -> _Reply:
        secret = self._secrets.get(name.lower())
        if secret is not None and secret.state == "deleting":
            raise _error(409, "Conflict", "Secret is currently being deleted.")
        if secret is None or secret.state != "deleted":
            raise _deleted_not_found(name)
        if self.purge_protection:
            raise _error(
                403, "Forbidden",
                'Operation "purge" is not allowed because purge protection is enabled for this vault. '
                "Key Vault will purge it after the retention period has passed.",
            )
        del self._secrets[name.lower()]
        return _Reply(204)

    def _exchange(self, exchange: Exchange) -> None:
        authorized = exchange.headers.get("Authorization") == f"Bearer {self.token}"
        try:
            reply = self._handle(exchange.method, exchange.target, exchange.headers, exchange.body)
        except _Reply as answer:
            reply = answer
        except ConnectionAbortedError:
            self._record(SeenRequest(exchange.method, exchange.target, authorized, None, exchange.head))
            exchange.drop()
            return
        self._record(SeenRequest(exchange.method, exchange.target, authorized, reply.status, exchange.head))
        json_type = () if reply.body is None else (("Content-Type", "application/json; charset=utf-8"),)
        exchange.send(Reply(reply.status, b"" if reply.body is None else json.dumps(reply.body).encode(),
                            (*reply.headers.items(), *json_type)))

    def _record(self, seen: SeenRequest) -> None:
        with self._lock:
            self._seen.append(seen)
