"""GraphReader over HTTPS: what Microsoft Graph knows of expiries, read with an access token the caller claimed.

One pool of connections for Graph (http_sessions.pool_manager), the retry policy of the design (retries.py: 429
waits for its Retry-After, 5xx, resets and time-outs back off, within the attempts and the caller's deadline).
Every answer is data or a `ReadUnknown` with its reason: 401 tokenRejected, 403 permissionMissing, 404 notFound,
429 after retries throttled, 5xx or the network after retries unreachable, anything else unexpectedAnswer. Nothing
is raised for what Graph or the network did, and no token or secret reaches a log line or a message.

The bearer token goes only to the configured Graph endpoint: a redirect is not followed, and an
`@odata.nextLink` to another origin is refused.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError
from urllib3.exceptions import TimeoutError as RequestTimeout

from ..domain.expiry import UnknownReason
from ..domain.expiry_credentials import AppCredentials, KeyCredential, PasswordCredential
from ..domain.expiry_gdap import DelegatedAdminRelationship
from ..domain.expiry_reads import ReadUnknown
from .http_sessions import pool_manager
from .retries import DEFAULT_POLICY, Retrying, RetryPolicy, retry_after

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 300  # Graph's most relationships a page ($top)
MAX_PAGES = 1000
_ANSWERED: dict[int, tuple[UnknownReason, str]] = {
    401: (UnknownReason.TOKEN_REJECTED, "Microsoft Graph did not accept the access token (HTTP 401)."),
    403: (UnknownReason.PERMISSION_MISSING, "The app lacks the Microsoft Graph permission to read this (HTTP 403)."),
    404: (UnknownReason.NOT_FOUND, "Microsoft Graph has no such object in this tenant (HTTP 404)."),
}


class HttpGraphReader:
    """Implements ports.GraphReader."""

    def __init__(
        self, graph_endpoint: str, *, pool_size: int, policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep, page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        """`page_size`: relationships asked a page (the most Graph gives, so the listing costs fewest requests)."""
        self._graph = graph_endpoint.rstrip("/")
        self._page_size = page_size
        self._origin = _origin(self._graph)
        self._retrying = Retrying(policy, sleep=sleep)
        self._http = pool_manager(self._graph, pool_size)

    def close(self) -> None:
        self._http.clear()

    def application_credentials(
        self, *, access_token: str, application_id: str, deadline: float,
    ) -> AppCredentials | ReadUnknown:
        literal = quote(application_id.replace("'", "''"), safe="")  # an OData string literal, then a path
        url = f"{self._graph}/v1.0/applications(appId='{literal}')?$select=passwordCredentials,keyCredentials"
        body = self._get(url, access_token, deadline)
        if isinstance(body, ReadUnknown):
            return body
        passwords, certificates = body.get("passwordCredentials"), body.get("keyCredentials")
        if not isinstance(passwords, list) or not isinstance(certificates, list):
            return _unexpected("Microsoft Graph's answer lists no credentials.")
        return AppCredentials(
            passwords=tuple(credential for item in passwords if (credential := _password(item)) is not None),
            certificates=tuple(credential for item in certificates if (credential := _certificate(item)) is not None))

    def delegated_admin_relationships(
        self, *, access_token: str, deadline: float,
    ) -> tuple[DelegatedAdminRelationship, ...] | ReadUnknown:
        url: str | None = f"{self._graph}/v1.0/tenantRelationships/delegatedAdminRelationships?$top={self._page_size}"
        found: list[DelegatedAdminRelationship] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return tuple(found)
            if _origin(url) != self._origin:
                return _unexpected("Microsoft Graph's next page is on another host; it was not followed.")
            body = self._get(url, access_token, deadline)
            if isinstance(body, ReadUnknown):
                return body
            items, url = body.get("value"), body.get("@odata.nextLink")
            if not isinstance(items, list) or not (url is None or isinstance(url, str)):
                return _unexpected("Microsoft Graph's answer is not a list of relationships.")
            found.extend(relationship for item in items if (relationship := _relationship(item)) is not None)
        return _unexpected(f"Microsoft Graph's relationships run past {MAX_PAGES} pages.")

    def _get(self, url: str, access_token: str, deadline: float) -> dict[str, Any] | ReadUnknown:
        """One Graph GET with the retry policy: the JSON object answered, or why there is none."""
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json",
                   "client-request-id": str(uuid.uuid4())}
        problem = ReadUnknown(UnknownReason.UNREACHABLE, "No attempt to reach Microsoft Graph was made before the "
                                                         "deadline.")
        for attempt, timeout in self._retrying.attempts(deadline):
            wait_for: float | None = None
            try:
                response = self._http.request("GET", url, headers=headers, redirect=False, retries=False,
                                              timeout=urllib3.Timeout(connect=timeout, read=timeout))
            except HTTPError as err:
                cause = err.reason if isinstance(err, MaxRetryError) else err
                problem = ReadUnknown(UnknownReason.UNREACHABLE, "Microsoft Graph did not answer in time."
                                      if isinstance(cause, RequestTimeout) else "Microsoft Graph could not be reached.")
            else:
                status = response.status
                if status == 200:
                    return _json_object(response)
                if status == 429:
                    problem = ReadUnknown(UnknownReason.THROTTLED, "Microsoft Graph throttled the request (HTTP 429).")
                    wait_for = retry_after(response.headers)
                elif status >= 500:
                    problem = ReadUnknown(UnknownReason.UNREACHABLE, f"Microsoft Graph answered HTTP {status}.")
                else:
                    return _refused(status, response)
            throttled = problem.reason is UnknownReason.THROTTLED
            if not self._retrying.wait(wait_for, deadline, attempt, throttled=throttled):
                break
        logger.info("A Microsoft Graph read gave no answer: %s", problem.reason)
        return problem


def _refused(status: int, response: urllib3.BaseHTTPResponse) -> ReadUnknown:
    reason, message = _ANSWERED.get(status, (UnknownReason.UNEXPECTED_ANSWER,
                                             f"Microsoft Graph answered HTTP {status}."))
    code = _error_code(response)
    return ReadUnknown(reason, f"{message[:-1]}: {code}." if code else message)


def _error_code(response: urllib3.BaseHTTPResponse) -> str | None:
    """Graph's error code (`Authorization_RequestDenied`...): a word from Graph's catalogue, safe to show."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 80 else None


def _json_object(response: urllib3.BaseHTTPResponse) -> dict[str, Any] | ReadUnknown:
    try:
        body = response.json()
    except ValueError:
        return _unexpected("Microsoft Graph's answer is not JSON.")
    return body if isinstance(body, dict) else _unexpected("Microsoft Graph's answer is not a JSON object.")


def _unexpected(message: str) -> ReadUnknown:
    return ReadUnknown(UnknownReason.UNEXPECTED_ANSWER, message)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.casefold()
    return scheme, (parts.hostname or "").casefold(), parts.port or {"https": 443, "http": 80}.get(scheme)


def _password(item: object) -> PasswordCredential | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("keyId"), str):
        return None
    return PasswordCredential(key_id=item["keyId"], hint=_text(item.get("hint")), ends_at=_instant(item.get(
        "endDateTime")), starts_at=_instant(item.get("startDateTime")), display_name=_text(item.get("displayName")))


def _certificate(item: object) -> KeyCredential | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("keyId"), str):
        return None
    return KeyCredential(key_id=item["keyId"], ends_at=_instant(item.get("endDateTime")),
                         starts_at=_instant(item.get("startDateTime")), display_name=_text(item.get("displayName")))


def _relationship(item: object) -> DelegatedAdminRelationship | None:
    """A relationship whose customer or status cannot be read is left out: it cannot be matched to a customer."""
    if not isinstance(item, Mapping):
        return None
    customer, status = item.get("customer"), item.get("status")
    tenant_id = customer.get("tenantId") if isinstance(customer, Mapping) else None
    if not isinstance(tenant_id, str) or not isinstance(status, str):
        return None
    access = item.get("accessDetails")
    roles = access.get("unifiedRoles") if isinstance(access, Mapping) else None
    role_ids = tuple(role["roleDefinitionId"] for role in roles or () if isinstance(role, Mapping)
                     and isinstance(role.get("roleDefinitionId"), str)) if isinstance(roles, list) else ()
    return DelegatedAdminRelationship(id=_text(item.get("id")) or "", customer_tenant_id=tenant_id, status=status,
                                      ends_at=_instant(item.get("endDateTime")),
                                      auto_extend_duration=_text(item.get("autoExtendDuration")), role_ids=role_ids)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _instant(value: object) -> datetime | None:
    """Graph's DateTimeOffset (`2024-02-10T11:24:42.3148266Z`; always UTC, so a value without a zone is UTC)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
