"""The scenario file: registered data, latency and scripted outcomes as JSON (see example_scenario.json).

    {"tenants": [{"id": "<guid>", "domains": ["contoso.onmicrosoft.com"], "name": "Contoso"}],
     "users": [{"upn": "admin@contoso.onmicrosoft.com", "password": "...", "mfa_required": false,
                "locked": false, "disabled": false, "password_expired": false}],
     "apps": [{"client_id": "<guid>", "name": "...",
               "secrets": [{"value": "...", "expires_at": "2030-01-01T00:00:00Z", "key_id": "<guid>",
                            "display_name": "...", "starts_at": "2028-01-01T00:00:00Z"}],
               "certificates": [{"expires_at": "...", "key_id": "...", "display_name": "CN=...", "thumbprint": "..."}],
               "redirect_uris": [...], "roles": {"*": ["User.Read.All"]}, "delegated_scopes": [...],
               "application_permissions": [...], "tenants": null, "home_tenant": "contoso.onmicrosoft.com"}],
     "delegated_grants": [{"client_id": "<guid>", "tenant": "contoso.onmicrosoft.com", "user": null,
                           "scopes": ["User.Read", "openid"]}],
     "relationships": [{"partner": "<partner tenant>", "customer_tenant_id": "<guid>", "ends_at": "...",
                        "status": "active", "auto_extend": "PT0S", "roles": ["<role definition id>"],
                        "customer_name": "Contoso"}],
     "graph_page_size": 100,
     "refresh_tokens": [{"value": "...", "tenant": "...", "upn": "...", "client_id": "...", "state": "valid"}],
     "sign_in": {"*": "admin@contoso.onmicrosoft.com"},
     "latency_ms": 0, "tenant_latency_ms": {"contoso.onmicrosoft.com": 200},
     "script": [{"tenant": "contoso.onmicrosoft.com", "endpoint": "token", "user": null, "client_id": null,
                 "grant_type": null, "times": 2, "outcome": {"kind": "error", "code": 50126}}]}

Outcome kinds: success (roles, scopes, tid), error (code, status, error, description), throttle (retry_after,
json_body), server_error (status), graph_error (status, code, message), hang (seconds), reset. A script entry's
endpoint may be "graph" (its tenant and user are then the bearer token's tid and upn). Unknown keys are refused,
so a typo cannot pass unseen.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.identity_sim.directory import AppRegistration, CertificateCredential, ClientSecret, Tenant, User
from tools.identity_sim.outcomes import (
    AadstsError,
    Endpoint,
    GraphError,
    Hang,
    Outcome,
    Reset,
    Rule,
    ServerError,
    Success,
    Throttle,
)
from tools.identity_sim.relationships import DelegatedAdminRelationship

_OUTCOMES: dict[str, type] = {"success": Success, "error": AadstsError, "throttle": Throttle,
                              "server_error": ServerError, "graph_error": GraphError, "hang": Hang, "reset": Reset}
_TUPLES = frozenset({"roles", "scopes", "domains", "redirect_uris", "delegated_scopes", "application_permissions",
                     "tenants", "certificates"})


@dataclass(frozen=True)
class RefreshTokenEntry:
    value: str = field(repr=False)
    tenant: str
    upn: str
    client_id: str
    state: str = "valid"
    scopes: tuple[str, ...] = ("openid", "profile", "offline_access", "User.Read")


@dataclass(frozen=True)
class DelegatedGrantEntry:
    client_id: str
    tenant: str
    scopes: tuple[str, ...]
    user: str | None = None


@dataclass(frozen=True)
class RelationshipEntry:
    partner: str  # the partner tenant that lists it
    relationship: DelegatedAdminRelationship


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
    delegated_grants: tuple[DelegatedGrantEntry, ...] = ()
    relationships: tuple[RelationshipEntry, ...] = ()
    graph_page_size: int | None = None


def load_scenario(source: str | os.PathLike[str] | Mapping[str, Any]) -> Scenario:
    """A Scenario from a JSON file path or an already-parsed mapping."""
    data = source if isinstance(source, Mapping) else json.loads(Path(source).read_text(encoding="utf-8"))
    _only(data, {"tenants", "users", "apps", "refresh_tokens", "sign_in", "latency_ms", "tenant_latency_ms",
                 "script", "description", "delegated_grants", "relationships", "graph_page_size"}, "scenario")
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
        delegated_grants=tuple(_build(DelegatedGrantEntry, item, "delegated grant") for item in
                               data.get("delegated_grants", [])),
        relationships=tuple(_relationship(item) for item in data.get("relationships", [])),
        graph_page_size=data.get("graph_page_size"),
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
    secrets = tuple(_build(ClientSecret, _instants(item, "expires_at", "starts_at"), "secret")
                    for item in data.get("secrets", []))
    certificates = tuple(_build(CertificateCredential, _instants(item, "expires_at", "starts_at"), "certificate")
                         for item in data.get("certificates", []))
    roles = {ref: tuple(held) for ref, held in data.get("roles", {}).items()}
    return _build(AppRegistration, {**data, "secrets": secrets, "roles": roles, "certificates": certificates}, "app")


def _relationship(data: Mapping[str, Any]) -> RelationshipEntry:
    if not isinstance(data, Mapping) or "partner" not in data:
        raise ValueError("a relationship needs its partner tenant")
    fields = _instants({key: value for key, value in data.items() if key != "partner"}, "ends_at", "activated_at",
                       "created_at")
    fields.setdefault("ends_at", None)
    return RelationshipEntry(data["partner"], _build(DelegatedAdminRelationship, fields, "relationship"))


def _instants(data: Mapping[str, Any], *names: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError("expected a JSON object")
    return {key: _instant(value) if key in names else value for key, value in data.items()}


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"a date needs a time zone (e.g. a trailing Z): {text!r}")
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
