"""Scripted outcomes: what the simulator answers instead of (or how it shapes) its normal answer.

A rule says which requests it applies to (endpoint, tenant, user, client id, grant type) and for how many
of them (`times`; None: until cleared). The first matching rule, in the order they were added, is taken.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Endpoint(StrEnum):
    TOKEN = "token"
    DISCOVERY = "discovery"  # .well-known/openid-configuration
    USERREALM = "userrealm"
    AUTHORIZE = "authorize"
    ADMINCONSENT = "adminconsent"
    GRAPH = "graph"  # Microsoft Graph (/v1.0/...): the rule's tenant and user are the bearer token's tid and upn
    ANY = "any"


@dataclass(frozen=True)
class Success:
    """Answer normally (the request is still validated), with these claims in the access token instead."""
    roles: tuple[str, ...] | None = None  # client credentials: `roles`
    scopes: tuple[str, ...] | None = None  # delegated grants: `scp`
    tid: str | None = None  # a tenant id other than the one asked for (adminconsent: the `tenant` returned)


@dataclass(frozen=True)
class AadstsError:
    """An AADSTS error with the service's status, `error` and description (aadsts.CATALOGUE), unless overridden."""
    code: int
    status: int | None = None
    error: str | None = None
    description: str | None = None  # the text after "AADSTSnnnn: "


@dataclass(frozen=True)
class Throttle:
    """HTTP 429 with `Retry-After: <retry_after>` (seconds). `json_body=False` answers plain text, as the
    service sometimes does (then MSAL's json.loads raises instead of returning a dict)."""
    retry_after: int = 5
    json_body: bool = True


@dataclass(frozen=True)
class ServerError:
    status: int = 503


@dataclass(frozen=True)
class GraphError:
    """A Microsoft Graph error answer: `{"error": {"code", "message", "innerError"}}` with this status."""
    status: int = 403
    code: str = "Authorization_RequestDenied"
    message: str = "Insufficient privileges to complete the operation."


@dataclass(frozen=True)
class Hang:
    """Hold the request without answering: for `seconds` and then answer normally, or (None) until the
    simulator stops, when the connection is closed unanswered."""
    seconds: float | None = None


@dataclass(frozen=True)
class Reset:
    """Close the TCP connection without an answer (a RST: SO_LINGER 0)."""


Outcome = Success | AadstsError | Throttle | ServerError | GraphError | Hang | Reset


@dataclass(frozen=True)
class RequestFacts:
    """What a rule can match on, read from the request before it is answered."""
    endpoint: Endpoint
    tenant: str  # the tenant path segment as sent
    tenant_id: str | None  # resolved, when the tenant is known
    user: str | None = None  # UPN: username, or the owner of the refresh token / code
    client_id: str | None = None
    grant_type: str | None = None


@dataclass
class Rule:
    outcome: Outcome
    endpoint: Endpoint = Endpoint.TOKEN
    tenant: str | None = None  # id or domain; None: every tenant
    user: str | None = None
    client_id: str | None = None
    grant_type: str | None = None
    times: int | None = None  # None: every matching request until cleared
    taken: int = field(default=0, compare=False)


class Script:
    """The rules, in order; `take` finds the first that matches and counts it used, atomically."""

    def __init__(self, *, tenant_id_of: Callable[[str], str | None]) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._tenant_id_of = tenant_id_of

    def add(self, rule: Rule) -> Rule:
        if rule.times is not None and rule.times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def take(self, facts: RequestFacts) -> Outcome | None:
        with self._lock:
            for rule in self._rules:
                if self._matches(rule, facts):
                    rule.taken += 1
                    if rule.times is not None and rule.taken >= rule.times:
                        self._rules.remove(rule)
                    return rule.outcome
        return None

    def _matches(self, rule: Rule, facts: RequestFacts) -> bool:
        if rule.endpoint not in (Endpoint.ANY, facts.endpoint):
            return False
        if rule.tenant is not None and not self._same_tenant(rule.tenant, facts):
            return False
        if rule.user is not None and (facts.user or "").casefold() != rule.user.casefold():
            return False
        if rule.client_id is not None and (facts.client_id or "").casefold() != rule.client_id.casefold():
            return False
        return rule.grant_type is None or rule.grant_type == facts.grant_type

    def _same_tenant(self, ref: str, facts: RequestFacts) -> bool:
        if ref.casefold() == facts.tenant.casefold():
            return True
        return facts.tenant_id is not None and self._tenant_id_of(ref) == facts.tenant_id
