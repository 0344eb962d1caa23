"""Response helpers shared by the HTTP blueprints: JSON bodies, the contract's error shape, what every API
request and answer passes through (endpoint), and the one map from the domain's kinds of outcome to status codes."""
from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func

from shared.domain.consent import ConsentOutcomeKind
from shared.domain.errors import (
    AppError,
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    InputError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
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
    """Register a handler on `route` under the function name `name`, always behind handles_errors, so no
    API handler can answer a stack trace, reads a body that is not JSON, or answers without NOSNIFF. Auth
    level: the app's FUNCTION."""

    def register(handler: Callable[[func.HttpRequest], func.HttpResponse]):
        return bp.function_name(name)(bp.route(route=route, methods=methods)(handles_errors(handler)))

    return register


def body_of(req: func.HttpRequest) -> bytes:
    return req.get_body() or b""
