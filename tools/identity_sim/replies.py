"""What an endpoint answers (a `Reply`) and the state every endpoint reads (`SimulatorState`)."""
from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from tools.identity_sim import aadsts
from tools.identity_sim.directory import Directory
from tools.identity_sim.grants import IssuedGrants
from tools.identity_sim.relationships import DelegatedAdminRelationships


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SimulatorState:
    directory: Directory
    grants: IssuedGrants
    signing_key: bytes = field(repr=False)
    authority_host: str = ""  # https://127.0.0.1:PORT, set once the port is known
    relationships: DelegatedAdminRelationships = field(default_factory=DelegatedAdminRelationships)
    # The date the registered data is judged by (secret expiry, a relationship's end); tests inject one. Tokens
    # keep the real time: MSAL checks an ID token's iat and exp against its own clock.
    clock: Callable[[], datetime] = _utc_now
    graph_page_size: int = 100  # relationships per page when the client asks no $top


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: int, body: dict[str, Any], *headers: tuple[str, str]) -> Reply:
    # Token answers are never cached, as the service says for every answer of its token endpoint.
    return Reply(status, json.dumps(body).encode(), (
        ("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store, no-cache"),
        ("Pragma", "no-cache"), *headers))


def aadsts_reply(
    code: int, *, state: SimulatorState, correlation_id: str | None, status: int | None = None,
    error: str | None = None, description: str | None = None, **names: Any,
) -> Reply:
    body = aadsts.error_body(code, error_uri_base=state.authority_host, correlation_id=correlation_id,
                             error=error, description=description, **names)
    return json_reply(status or aadsts.lookup(code).status, body)


def html_page(status: int, title: str, text: str) -> Reply:
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return Reply(status, page.encode(), (("Content-Type", "text/html; charset=utf-8"),))


def aadsts_page(code: int, *, state: SimulatorState, **names: Any) -> Reply:
    """The error page the service shows in the browser when it cannot redirect (unknown app, bad redirect URI)."""
    body = aadsts.error_body(code, error_uri_base=state.authority_host, **names)
    return html_page(aadsts.lookup(code).status, "Sign in", body["error_description"].splitlines()[0])


def form_post(target: str, params: dict[str, str | None]) -> Reply:
    """response_mode=form_post: a page whose form POSTs `params` to `target` as soon as it loads."""
    fields = "".join(f"<input type='hidden' name='{html.escape(key)}' value='{html.escape(value)}'>"
                      for key, value in params.items() if value is not None)
    page = (f"<!doctype html><html><head><title>Working...</title></head><body onload='document.forms[0].submit()'>"
            f"<form method='POST' action='{html.escape(target)}'>{fields}<noscript><input type='submit'></noscript>"
            "</form></body></html>")
    return Reply(200, page.encode(), (("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")))


def redirect(target: str, params: dict[str, str | None]) -> Reply:
    """302 to `target` with `params` added to its query (None values left out)."""
    parts = urlsplit(target)
    added = urlencode({key: value for key, value in params.items() if value is not None})
    query = f"{parts.query}&{added}" if parts.query else added
    return Reply(302, b"", (("Location", urlunsplit(parts._replace(query=query))), ("Cache-Control", "no-store")))
