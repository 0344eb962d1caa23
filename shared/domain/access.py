"""Who may do what once operators sign in: the roles, the role each route needs, the signed-in principal that
App Service Authentication passes in `X-MS-CLIENT-PRINCIPAL`, and the decision for one request.

Plain values in, plain values out: the edge reads the headers and the configuration, calls `decide`, and maps
its outcome to 401 `unauthenticated` / 403 `forbidden`.

Two facts of the platform shape it:
- The app may trust `X-MS-CLIENT-PRINCIPAL` only while App Service Authentication runs for it: then the platform
  drops what a client sends under that name and sets its own; while it is off, any client can send one. The
  platform says it runs through `WEBSITE_AUTH_ENABLED`, an environment variable no request can touch, and the
  Functions host reads the same variable before it trusts the header.
- The Functions host accepts only a function key for a route of auth level FUNCTION: a signed-in principal does
  not satisfy it (azure-functions-host, AuthUtility.PrincipalHasAuthLevelClaim), and the Python worker is never
  told whether a key was sent. So "a function key" below means one the host verified, which the edge knows only
  from the route's auth level, never from an `x-functions-key` header on an ANONYMOUS route.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from .errors import ConfigurationError
from .rules import is_guid


class Role(StrEnum):
    """The app roles of the operators' app registration (their `value`s), least to most."""

    READER = "Reader"  # every GET but the audit log
    OPERATOR = "Operator"  # and: verify one, Verify All, consent links, acknowledge, add and edit customers
    ADMINISTRATOR = "Administrator"  # and: delete customers, settings, alert channels, the audit log


# Each role may do all that the roles below it may.
_RANK = {Role.READER: 1, Role.OPERATOR: 2, Role.ADMINISTRATOR: 3}


def grants(held: Iterable[Role], needed: Role) -> bool:
    """Whether any of the roles held is `needed` or above it."""
    return any(_RANK[role] >= _RANK[needed] for role in held)


def highest(held: Iterable[Role]) -> Role | None:
    return max(held, key=_RANK.__getitem__, default=None)


# ---------------------------------------------------------------------------------------------------------------
# The role each route of the HTTP contract needs (design.md), None for a route open to anyone. Routes are written
# as the contract writes them; normalize_route turns a registered template into that form.

_R, _O, _A = Role.READER, Role.OPERATOR, Role.ADMINISTRATOR

ROUTE_ROLES: Mapping[tuple[str, str], Role | None] = {
    ("GET", "/api/health"): None,
    ("GET", "/api/me"): None,  # who the caller is, as the edge sees them (the page shows it)
    ("GET", "/"): None,  # the page: no data in it, every datum from the API
    ("GET", "/page/{file}"): None,  # its static files
    ("GET", "/authenticate/OAuth2Callback"): None,  # Microsoft redirects customers' admins here
    ("POST", "/authenticate/OAuth2Callback"): None,
    ("GET", "/api/tenants/{customerId}"): _R,
    ("PUT", "/api/tenants/{customerId}"): _O,
    ("DELETE", "/api/tenants/{customerId}"): _A,
    ("GET", "/api/status"): _R,
    ("GET", "/api/status/{customerId}"): _R,
    ("POST", "/api/status/{customerId}/verify"): _O,
    ("POST", "/api/status/{customerId}/acknowledge"): _O,
    ("POST", "/api/runs"): _O,
    ("GET", "/api/runs"): _R,
    ("GET", "/api/runs/{runId}"): _R,
    ("GET", "/api/settings"): _R,
    ("PUT", "/api/settings"): _A,
    ("POST", "/api/consent/{customerId}"): _O,
    ("POST", "/api/consent"): _O,
    ("GET", "/api/events"): _R,
    ("GET", "/api/alerts/channels"): _R,
    ("PUT", "/api/alerts/channels/{channelId}"): _A,
    ("DELETE", "/api/alerts/channels/{channelId}"): _A,
    ("POST", "/api/alerts/channels/{channelId}/test"): _A,
    ("GET", "/api/audit"): _A,
    # Open here, but of auth level FUNCTION: the host lets only a function key through (functions/key_check.py).
    ("GET", "/api/keycheck"): None,
}

_PARAMETER = re.compile(r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<constraints>[^}?]*))?(?P<optional>\?)?\}")


class UnknownRoute(KeyError):
    """A route the table does not list: every route must say which role it needs."""


def normalize_route(route: str) -> str:
    """A registered route template in the contract's form: a leading "/", parameters without constraints, and no
    segment for a parameter that can only be empty (`{root:maxlength(0)?}`, how the page registers "/")."""
    segments = []
    for segment in route.strip("/").split("/"):
        match = _PARAMETER.fullmatch(segment)
        if match is None:
            segments.append(segment)
        elif "maxlength(0)" not in (match["constraints"] or "").replace(" ", ""):
            segments.append("{" + match["name"] + "}")
    return "/" + "/".join(s for s in segments if s)


def required_role(method: str, route: str) -> Role | None:
    """The role a request needs (None: anyone); raises UnknownRoute for a route the table does not list."""
    key = (method.upper(), normalize_route(route))
    if key not in ROUTE_ROLES:
        raise UnknownRoute(f"{key[0]} {key[1]} is not in shared/domain/access.py ROUTE_ROLES")
    return ROUTE_ROLES[key]


# ---------------------------------------------------------------------------------------------------------------
# Sign-in as configured


@dataclass(frozen=True, slots=True)
class SignIn:
    """The app's side of operators' sign-in. `client_id` None: sign-in is off, the function-key mode."""

    client_id: str | None = None
    tenant_id: str | None = None
    platform_enabled: bool = False  # App Service Authentication runs for this app (WEBSITE_AUTH_ENABLED)

    @property
    def configured(self) -> bool:
        return self.client_id is not None

    @property
    def principals_trusted(self) -> bool:
        """Whether `X-MS-CLIENT-PRINCIPAL` can only have come from the platform."""
        return self.configured and self.platform_enabled


def sign_in_from(env: Mapping[str, str]) -> SignIn:
    """Sign-in from the app's settings; raises ConfigurationError for ids that cannot be right."""
    client_id = (env.get("OPERATORS_CLIENT_ID") or "").strip()
    tenant_id = (env.get("OPERATORS_TENANT_ID") or "").strip()
    # As the Functions host reads it (bool.TryParse): "true" in any letter case, anything else is off.
    platform_enabled = env.get("WEBSITE_AUTH_ENABLED", "false").strip().lower() == "true"
    if not client_id:
        return SignIn(platform_enabled=platform_enabled)
    if not is_guid(client_id):
        raise ConfigurationError("OPERATORS_CLIENT_ID must be the operators' app registration's client id (a GUID).")
    if not is_guid(tenant_id):
        raise ConfigurationError("OPERATORS_TENANT_ID must be the operators' tenant id (a GUID) when "
                                 "OPERATORS_CLIENT_ID is set.")
    return SignIn(client_id=client_id.lower(), tenant_id=tenant_id.lower(), platform_enabled=platform_enabled)


# ---------------------------------------------------------------------------------------------------------------
# The principal App Service Authentication passes: base64 of {"auth_typ", "claims": [{"typ", "val"}], "name_typ",
# "role_typ"}. Claim names are mapped (objectidentifier, tenantid URIs) when the token store is on and the
# token's own (oid, tid) when it is off: both are read.

MAX_PRINCIPAL_HEADER = 16 * 1024
_MAX_CLAIMS = 500
_AUTH_TYPE = "aad"
_OBJECT_ID = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
_TENANT_ID = ("http://schemas.microsoft.com/identity/claims/tenantid", "tid")
_ROLES = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
_NAMES = ("preferred_username", "name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
          "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "appid", "azp")
_MAX_NAME = 256
_ROLE_VALUES = frozenset(role.value for role in Role)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in person (or an application with a token for the API)."""

    name: str
    object_id: str
    tenant_id: str
    roles: frozenset[Role]

    @property
    def role(self) -> Role | None:
        return highest(self.roles)


def principal_from_header(header: str | None, *, sign_in: SignIn) -> Principal | None:
    """The principal of `X-MS-CLIENT-PRINCIPAL`, or None: when the header cannot be trusted (sign-in off, or the
    platform's authentication off: anyone could have sent it), is missing or malformed, names no object id, or
    comes from another tenant or for another application. Never raises."""
    if not sign_in.principals_trusted or not header or len(header) > MAX_PRINCIPAL_HEADER:
        return None
    try:
        document = json.loads(base64.b64decode(header.strip(), validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None
    claims = _claims(document)
    if claims is None or str(document.get("auth_typ", "")).lower() != _AUTH_TYPE:
        return None
    object_id = _first(claims, _OBJECT_ID)
    tenant_id = _first(claims, _TENANT_ID)
    if object_id is None or not is_guid(object_id) or tenant_id is None or tenant_id.lower() != sign_in.tenant_id:
        return None
    audiences = claims.get("aud", [])
    if audiences and not {a.lower() for a in audiences} & {sign_in.client_id, f"api://{sign_in.client_id}"}:
        return None
    role_types = (*_ROLES, document["role_typ"]) if isinstance(document.get("role_typ"), str) else _ROLES
    roles = frozenset(Role(v) for t in role_types for v in claims.get(t, []) if v in _ROLE_VALUES)
    name_types = (document["name_typ"], *_NAMES) if isinstance(document.get("name_typ"), str) else _NAMES
    name = _first(claims, name_types, valid=_is_name) or object_id.lower()
    return Principal(name=name, object_id=object_id.lower(), tenant_id=tenant_id.lower(), roles=roles)


def _claims(document: Any) -> dict[str, list[str]] | None:
    """typ -> every val of it; None when the claims are not a list of {"typ": str, "val": str}."""
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        return None
    if len(document["claims"]) > _MAX_CLAIMS:
        return None
    claims: dict[str, list[str]] = {}
    for claim in document["claims"]:
        if not (isinstance(claim, dict) and isinstance(claim.get("typ"), str) and isinstance(claim.get("val"), str)):
            return None
        claims.setdefault(claim["typ"], []).append(claim["val"])
    return claims


def _first(claims: dict[str, list[str]], types: Iterable[str], *, valid=lambda value: bool(value)) -> str | None:
    return next((v for t in types for v in claims.get(t, []) if valid(v)), None)


def _is_name(value: str) -> bool:
    return 0 < len(value) <= _MAX_NAME and not _CONTROL.search(value) and value.strip() == value


# ---------------------------------------------------------------------------------------------------------------
# The decision for one request


class Outcome(StrEnum):
    ALLOWED = "allowed"
    UNAUTHENTICATED = "unauthenticated"  # the edge answers 401 with this code
    FORBIDDEN = "forbidden"  # the edge answers 403 with this code


class ActorKind(StrEnum):
    PRINCIPAL = "principal"
    FUNCTION_KEY = "functionKey"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, as the audit log names them: a principal's object id and name, or the function key."""

    kind: ActorKind
    id: str
    name: str


FUNCTION_KEY = Actor(ActorKind.FUNCTION_KEY, "functionKey", "function key")


def actor_of(principal: Principal) -> Actor:
    return Actor(ActorKind.PRINCIPAL, principal.object_id, principal.name)


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    needed: Role | None  # the role the route needs (None: anyone)
    actor: Actor | None  # who acts when allowed (None on an open route without a principal)
    message: str  # for a person; never a claim value

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED


def decide(needed: Role | None, *, sign_in: SignIn, principal: Principal | None, function_key: bool) -> Decision:
    """Whether a request may go on.

    `needed`: required_role of its route. `principal`: principal_from_header of it (ignored unless the platform's
    authentication is on). `function_key`: the Functions host verified a function key for it, true only on a
    route of auth level FUNCTION (see the module's docstring). A function key acts with every role.
    """
    trusted = principal if sign_in.principals_trusted else None
    if needed is None:
        return Decision(Outcome.ALLOWED, None, actor_of(trusted) if trusted else None, "")
    if not sign_in.configured:  # the function-key mode: the host let the request in with a key
        return Decision(Outcome.ALLOWED, needed, FUNCTION_KEY, "")
    if trusted is not None and grants(trusted.roles, needed):
        return Decision(Outcome.ALLOWED, needed, actor_of(trusted), "")
    if function_key:
        return Decision(Outcome.ALLOWED, needed, FUNCTION_KEY, "")
    if trusted is not None:
        held = trusted.role
        return Decision(Outcome.FORBIDDEN, needed, actor_of(trusted),
                        f"This needs the {needed} role; you have "
                        f"{f'the {held} role' if held else 'no role'} in this app. Ask an administrator.")
    if not sign_in.platform_enabled:
        return Decision(Outcome.UNAUTHENTICATED, needed, None,
                        "Operators' sign-in is configured, but App Service Authentication is not on for this app, "
                        "so no one can sign in: turn it on, or use a function key.")
    return Decision(Outcome.UNAUTHENTICATED, needed, None, "Sign in, or send a function key.")


# ---------------------------------------------------------------------------------------------------------------
# Cross-site requests. A session cookie goes with requests a page on another site makes; what such a page can send
# without the browser asking this site first (a CORS preflight, which this app never grants) is a "simple"
# request: GET/HEAD/POST with no custom header and a form or text/plain body, or none. A state-changing call must
# therefore carry what a simple request cannot: Content-Type application/json, or an X-Requested-With header.

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUESTED_WITH = "X-Requested-With"


def is_state_changing(method: str) -> bool:
    return method.upper() in STATE_CHANGING


def safe_from_cross_site(method: str, *, content_type: str | None, requested_with: str | None) -> bool:
    """Whether a request could not have been sent by a page on another site without asking first."""
    if not is_state_changing(method) or (requested_with or "").strip():
        return True
    return (content_type or "").partition(";")[0].strip().lower() == "application/json"


# ---------------------------------------------------------------------------------------------------------------
# The page: without a principal it sends the browser to the platform's sign-in, which brings it back.

SIGN_IN_PATH = "/.auth/login/aad"
SIGN_OUT_PATH = "/.auth/logout"


def page_needs_sign_in(*, sign_in: SignIn, principal: Principal | None) -> bool:
    return sign_in.principals_trusted and principal is None


def sign_in_url(return_to: str = "/") -> str:
    """Where the page sends a browser to sign in; `return_to` must be a path of this site (no open redirect)."""
    if not return_to.startswith("/") or return_to.startswith("//") or "\\" in return_to or _CONTROL.search(return_to):
        return_to = "/"
    return f"{SIGN_IN_PATH}?post_login_redirect_uri={quote(return_to, safe='/')}"


def sign_out_url() -> str:
    return f"{SIGN_OUT_PATH}?post_logout_redirect_uri=/"
