"""The scenario file: registered data, latency and scripted outcomes as JSON (see example_scenario.json).

    {"tenants": [{"id": "<guid>", "domains": ["contoso.onmicrosoft.com"], "name": "Contoso"}],
     "users": [{"upn": "admin@contoso.onmicrosoft.com", "password": "...", "mfa_required": false,
                "locked": false, "disabled": false, "password_expired": false}],
     "apps": [{"client_id": "<guid>", "name": "...",
               "secrets": [{"value": "...", "expires_at": "2030-01-01T00:00:00Z"}],
               "redirect_uris": [...], "roles": {"*": ["User.Read.All"]}, "delegated_scopes": [...],
               "application_permissions": [...], "tenants": null}],
     "refresh_tokens": [{"value": "...", "tenant": "...", "upn": "...", "client_id": "...", "state": "valid"}],
     "sign_in": {"*": "admin@contoso.onmicrosoft.com"},
     "latency_ms": 0, "tenant_latency_ms": {"contoso.onmicrosoft.com": 200},
     "script": [{"tenant": "contoso.onmicrosoft.com", "endpoint": "token", "user": null, "client_id": null,
                 "grant_type": null, "times": 2, "outcome": {"kind": "error", "code": 50126}}]}

Outcome kinds: success (roles, scopes, tid), error (code, status, error, description), throttle (retry_after,
json_body), server_error (status), hang (seconds), reset. Unknown keys are refused, so a typo cannot pass unseen.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.identity_sim.directory import AppRegistration, ClientSecret, Tenant, User
from tools.identity_sim.outcomes import (
    AadstsError,
    Endpoint,
    Hang,
    Outcome,
    Reset,
    Rule,
    ServerError,
    Success,
    Throttle,
)

_OUTCOMES: dict[str, type] = {"success": Success, "error": AadstsError, "throttle": Throttle,
                              "server_error": ServerError, "hang": Hang, "reset": Reset}
_TUPLES = frozenset({"roles", "scopes", "domains", "redirect_uris", "delegated_scopes", "application_permissions",
                     "tenants"})


@dataclass(frozen=True)
class RefreshTokenEntry:
    value: str = field(repr=False)
    tenant: str
    upn: str
    client_id: str
    state: str = "valid"
    scopes: tuple[str, ...] = ("openid", "profile", "offline_access", "User.Read")


@dataclass(frozen=True)
class Scenario:
    tenants: tuple[Tenant, ...] = ()
    users: tuple[User, ...] = ()
    apps: tuple[AppRegistration, ...] = ()
    refresh_tokens: tuple[RefreshTokenEntry, ...] = ()
    sign_in: Mapping[str, str] = field(default_factory=dict)  # tenant ref or "*" -> UPN
    latency_ms: float | None = None  # None: the file names none, so the simulator keeps the latency it has
    tenant_latency_ms: Mapping[str, float] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()


def load_scenario(source: str | os.PathLike[str] | Mapping[str, Any]) -> Scenario:
    """A Scenario from a JSON file path or an already-parsed mapping."""
    data = source if isinstance(source, Mapping) else json.loads(Path(source).read_text(encoding="utf-8"))
    _only(data, {"tenants", "users", "apps", "refresh_tokens", "sign_in", "latency_ms", "tenant_latency_ms",
                 "script", "description"}, "scenario")
    return Scenario(
        tenants=tuple(_build(Tenant, item, "tenant") for item in data.get("tenants", [])),
        users=tuple(_build(User, item, "user") for item in data.get("users", [])),
        apps=tuple(_app(item) for item in data.get("apps", [])),
        refresh_tokens=tuple(_build(RefreshTokenEntry, item, "refresh token") for item in
                             data.get("refresh_tokens", [])),
        sign_in=dict(data.get("sign_in", {})),
        latency_ms=float(data["latency_ms"]) if data.get("latency_ms") is not None else None,
        tenant_latency_ms={ref: float(ms) for ref, ms in data.get("tenant_latency_ms", {}).items()},
        rules=tuple(_rule(item) for item in data.get("script", [])),
    )


def outcome_from_json(data: Mapping[str, Any]) -> Outcome:
    kind = data.get("kind")
    if kind not in _OUTCOMES:
        raise ValueError(f"outcome kind must be one of {sorted(_OUTCOMES)}, got {kind!r}")
    return _build(_OUTCOMES[kind], {key: value for key, value in data.items() if key != "kind"}, f"{kind} outcome")


def _rule(data: Mapping[str, Any]) -> Rule:
    _only(data, {"tenant", "endpoint", "user", "client_id", "grant_type", "times", "outcome"}, "script entry")
    if "outcome" not in data:
        raise ValueError("a script entry needs an outcome")
    return Rule(outcome=outcome_from_json(data["outcome"]), endpoint=Endpoint(data.get("endpoint", "token")),
                tenant=data.get("tenant"), user=data.get("user"), client_id=data.get("client_id"),
                grant_type=data.get("grant_type"), times=data.get("times"))


def _app(data: Mapping[str, Any]) -> AppRegistration:
    secrets = tuple(
        ClientSecret(value=item["value"], expires_at=_instant(item.get("expires_at"))) for item in
        data.get("secrets", []))
    roles = {ref: tuple(held) for ref, held in data.get("roles", {}).items()}
    return _build(AppRegistration, {**data, "secrets": secrets, "roles": roles}, "app")


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"expires_at needs a time zone (e.g. a trailing Z): {text!r}")
    return moment


def _build(kind: type, data: Mapping[str, Any], what: str) -> Any:
    allowed = set(kind.__dataclass_fields__) - {"taken"}
    _only(data, allowed, what)
    values = {key: tuple(value) if key in _TUPLES and isinstance(value, list) else value
              for key, value in data.items()}
    return kind(**values)


def _only(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"a {what} must be a JSON object")
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown keys in a {what}: {sorted(unknown)} (allowed: {sorted(allowed)})")
