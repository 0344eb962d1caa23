"""Response helpers shared by the HTTP blueprints: JSON bodies, the contract's error shape, what every API
request and answer passes through (endpoint), and the one map from the domain's kinds of outcome to status codes."""
from __future__ import annotations

import functools
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import azure.functions as func

from shared import bootstrap
from shared.domain import access
from shared.domain.consent import ConsentOutcomeKind
from shared.domain.errors import (
    AppError,
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    InputError,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
)
from shared.domain.ports import FunctionKeyCheck
from shared.usecases.audit import record_change
from shared.views import error_view

from . import parsing

logger = logging.getLogger(__name__)

JSON = "application/json"
NO_STORE = {"Cache-Control": "no-store"}
# A browser must take an answer for what its Content-Type says (JSON), never sniff it into something it runs.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
# Methods whose requests may carry a body: the API reads JSON only (parsing.json_content_type).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# The status code of each kind of error (the class, or the nearest of its bases named here).
ERROR_STATUS: dict[type[AppError], int] = {
    InputError: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    DependencyUnavailable: 503,
    ConfigurationError: 503,
}
# The status code of each outcome of the consent callback's page.
CONSENT_STATUS: dict[ConsentOutcomeKind, int] = {
    ConsentOutcomeKind.GRANTED: 200,
    ConsentOutcomeKind.DECLINED: 200,
    ConsentOutcomeKind.FAILED: 400,
    ConsentOutcomeKind.REFUSED: 400,
    ConsentOutcomeKind.TOO_LARGE: 413,
    ConsentOutcomeKind.UNAVAILABLE: 503,
}


def error_status(error: AppError) -> int:
    return next(ERROR_STATUS[kind] for kind in type(error).__mro__ if kind in ERROR_STATUS)


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        _json_bytes(body),
        status_code=status,
        mimetype=JSON,
        charset="utf-8",
        headers={**NO_STORE, **NOSNIFF, **(headers or {})},
    )


def _json_bytes(body: Any) -> bytes:
    """UTF-8 JSON; a string that is not text (a lone surrogate) falls back to \\u escapes instead of failing,
    so building an answer, above all an error answer, can never itself fail."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def page_headers(*, sources: tuple[str, ...] = (), cache: str) -> dict[str, str]:
    """The headers of every HTML page and page file: never framed, posting a form, changing its base, sniffed or
    sent as a referrer; it loads only `sources` (Content-Security-Policy directives), by default nothing."""
    policy = "; ".join(("default-src 'none'", *sources, "base-uri 'none'", "form-action 'none'",
                        "frame-ancestors 'none'"))
    return {"Content-Security-Policy": policy, **NOSNIFF, "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Cache-Control": cache}


def error_response(error: AppError) -> func.HttpResponse:
    return json_response(error_view(error.code, error.message, target=error.target), status=error_status(error))


def handles_errors(handler: Callable[[func.HttpRequest], func.HttpResponse]):
    """Turn domain exceptions into the contract's error JSON; anything unexpected is a 500 without detail.
    Every answer, an error or not, carries NOSNIFF."""

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        response = _answer(handler, req)
        response.headers.update(NOSNIFF)
        return response

    return wrapper


def _answer(handler: Callable[[func.HttpRequest], func.HttpResponse], req: func.HttpRequest) -> func.HttpResponse:
    try:
        if req.method.upper() in _BODY_METHODS:
            parsing.json_content_type(req.headers.get("Content-Type"), has_body=bool(body_of(req)))
        return handler(req)
    except AppError as err:
        if isinstance(err, DependencyUnavailable):
            logger.warning("dependency unavailable: %s", err.code)
        elif isinstance(err, ConfigurationError):
            logger.error("configuration error: %s", err)
        return error_response(err)
    except Exception as err:  # never a stack trace to the client; the log keeps the type for operators
        logger.exception("unhandled %s in %s", type(err).__name__, handler.__name__)
        return json_response(error_view("internalError", "The server failed to handle the request."), status=500)


def endpoint(bp: func.Blueprint, name: str, route: str, *, methods: list[str]):
    """Register a handler on `route` under the function name `name`, behind the edge (who may call it, and the
    audit of every change) and handles_errors, so no API handler can answer a stack trace, reads a body that is
    not JSON, or answers without NOSNIFF. Auth level: api_auth_level()."""
    level = api_auth_level()
    for method in methods:
        access.required_role(method, route)  # every route says which role it needs: UnknownRoute otherwise

    def register(handler: Callable[[func.HttpRequest], func.HttpResponse]):
        inner = handles_errors(handler)

        @functools.wraps(handler)
        def guarded(req: func.HttpRequest) -> func.HttpResponse:
            response = edge(req, inner, action=name, route=route, key_checked_by_host=level is FUNCTION_LEVEL)
            response.headers.update(NOSNIFF)
            return response

        return bp.function_name(name)(bp.route(route=route, methods=methods, auth_level=level)(guarded))

    return register


def body_of(req: func.HttpRequest) -> bytes:
    return req.get_body() or b""


# ---------------------------------------------------------------------------------------------------------------
# The edge: who may call an API route, and the audit of every change (shared/domain/access.py, audit.py).
#
# The Functions host lets only a function key through a route of auth level FUNCTION: a principal signed in by
# App Service Authentication does not satisfy it (azure-functions-host, AuthUtility.PrincipalHasAuthLevelClaim;
# Azure/azure-functions-host#11394). So with operators' sign-in configured and the platform's authentication on,
# the API's routes are ANONYMOUS and this edge decides each request: a trusted principal with the role, or a
# function key, which the host checks when the edge asks it (FunctionKeyCheck). Otherwise they stay FUNCTION, the
# host demands a key, and a request that reached the app had one.

FUNCTION_LEVEL = func.AuthLevel.FUNCTION
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"
REQUEST_ID_HEADER = "X-ARR-LOG-ID"  # the platform front end's id of the request; the app makes one without it


def api_auth_level(env: Mapping[str, str] | None = None) -> func.AuthLevel:
    """ANONYMOUS when operators' sign-in is configured and the platform's authentication runs, else FUNCTION
    (also for a sign-in configuration that cannot work: the host keeps demanding a key, and the app answers 503
    with the reason)."""
    try:
        sign_in = access.sign_in_from(os.environ if env is None else env)
    except ConfigurationError:
        return FUNCTION_LEVEL
    return func.AuthLevel.ANONYMOUS if sign_in.principals_trusted else FUNCTION_LEVEL


def presented_key(req: func.HttpRequest) -> str | None:
    """The function key a request carries, where the host looks for one: the header, else the `code` query."""
    return (req.headers.get(KEY_HEADER) or req.params.get(KEY_QUERY) or "").strip() or None


def admit(req: func.HttpRequest, *, route: str, sign_in: access.SignIn, key_checked_by_host: bool,
          keys: FunctionKeyCheck) -> access.Decision:
    """The decision for one request to `route`; raises Unauthenticated or Forbidden when it may not go on, and
    ConfigurationError when the route's auth level and the configuration disagree."""
    needed = access.required_role(req.method, route)
    if not key_checked_by_host and not sign_in.principals_trusted:
        # Registered ANONYMOUS for a sign-in that is no longer configured: nobody checked a key.
        raise ConfigurationError("Operators' sign-in changed after the app started; restart it.")
    principal = access.principal_from_header(req.headers.get(PRINCIPAL_HEADER), sign_in=sign_in)
    function_key = key_checked_by_host
    if not function_key and needed is not None and not (principal and access.grants(principal.roles, needed)):
        key = presented_key(req)
        function_key = key is not None and keys.is_valid(key)
    decision = access.decide(needed, sign_in=sign_in, principal=principal, function_key=function_key)
    if decision.outcome is access.Outcome.UNAUTHENTICATED:
        raise Unauthenticated(decision.message)
    if decision.outcome is access.Outcome.FORBIDDEN:
        raise Forbidden(decision.message)
    if decision.actor is not None and decision.actor.kind is access.ActorKind.PRINCIPAL and not \
            access.safe_from_cross_site(req.method, content_type=req.headers.get("Content-Type"),
                                        requested_with=req.headers.get(access.REQUESTED_WITH)):
        # A signed-in browser sends its session cookie with any site's request: this one could be another's.
        raise Forbidden("A change from a signed-in browser must be sent as JSON or with an X-Requested-With "
                        "header.", code="crossSiteRequest")
    return decision


def edge(req: func.HttpRequest, inner: Callable[[func.HttpRequest], func.HttpResponse], *, action: str, route: str,
         key_checked_by_host: bool) -> func.HttpResponse:
    """Admit the request, run `inner` (a handles_errors handler), and record a change in the audit log: one
    answered 2xx, or 5xx (it may have been made in part)."""
    actor: access.Actor | None = None
    try:
        services = bootstrap.services()
        decision = admit(req, route=route, sign_in=services.config.sign_in, key_checked_by_host=key_checked_by_host,
                         keys=services.function_keys)
        actor = decision.actor
        response = inner(req)
    except AppError as err:
        response = error_response(err)
    except Exception as err:  # as handles_errors: never a stack trace to the client
        logger.exception("unhandled %s at the edge of %s", type(err).__name__, action)
        response = json_response(error_view("internalError", "The server failed to handle the request."), status=500)
    # A request answered 4xx changed nothing (the contract: nothing stored changes), the audit log included.
    if actor is not None and access.is_state_changing(req.method) and not 400 <= response.status_code < 500:
        _audit(services, req, actor=actor, action=action, route=route, status=response.status_code)
    return response


def request_id(req: func.HttpRequest) -> str:
    """The platform's id of the request when it sent a well-formed one, else a new one."""
    given = (req.headers.get(REQUEST_ID_HEADER) or "").strip()
    try:
        return str(uuid.UUID(given))
    except ValueError:
        return str(uuid.uuid4())


def _audit(services: bootstrap.Services, req: func.HttpRequest, *, actor: access.Actor, action: str, route: str,
           status: int) -> None:
    try:
        record_change(services.audit, actor=actor, method=req.method, route=route, action=action,
                      parameters=dict(req.route_params), status=status, request_id=request_id(req))
    except Exception as err:  # the change is made; its answer stands, and operators see the gap in the log
        logger.error("The change %s %s (%d) could not be audited: %s.", req.method, route, status,
                     getattr(err, "code", type(err).__name__))


def sign_in_redirect(req: func.HttpRequest) -> func.HttpResponse | None:
    """For the page: a 302 to the platform's sign-in when sign-in is on and nobody is signed in, else None (a
    configuration that cannot work shows the page, whose API calls answer 503 with the reason)."""
    try:
        sign_in = access.sign_in_from(os.environ)
    except ConfigurationError:
        return None
    principal = access.principal_from_header(req.headers.get(PRINCIPAL_HEADER), sign_in=sign_in)
    if not access.page_needs_sign_in(sign_in=sign_in, principal=principal):
        return None
    return func.HttpResponse(status_code=302, headers={"Location": access.sign_in_url("/"), **NO_STORE, **NOSNIFF})
