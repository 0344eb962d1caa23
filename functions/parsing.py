"""The HTTP edge's parser: request bodies, route and query parameters into the domain's typed inputs.

Every failure is an InputError with a contract code and, where one field or parameter is at fault, its name as
`target`; functions/http.py turns it into a 4xx.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from shared.domain.alerts.events import EventFilter, EventType
from shared.domain.errors import InputError, PayloadTooLarge, UnsupportedMediaType, invalid_customer_id
from shared.domain.inputs import CustomerInput, ProviderSettingsInput, StatusQuery
from shared.domain.models import AuthMethod, Status
from shared.domain.rules import (
    CALLBACK_PATH,
    MAX_TOP,
    is_customer_id,
    is_domain,
    is_email,
    is_guid,
    is_url_host,
)
from shared.domain.runs import is_run_id

from .expiry_parsing import expiring_within_days, expiry_date

MAX_BODY_BYTES = 64 * 1024

# Fields of the tenant view a portal may send back unchanged on PUT; they are read-only and ignored.
_READ_ONLY_VIEW_FIELDS = frozenset({
    "customerId", "whenLastVerified", "lastVerificationStatus", "lastVerificationReason",
    "lastVerificationMessage", "aadstsCode", "hint", "secretsConfigured", "history", "pendingConsent", "lastConsent",
    "expiresAt", "expiry", "expiryUnknown", "retirement",
})
_CUSTOMER_FIELDS = frozenset({
    "tenantId", "authenticationMethod", "m365Email", "password", "applicationId", "applicationSecret",
    "applicationSecretExpiresAt",
})
# Longest secret values we accept: Entra passwords are at most 256 characters; client secrets are ~40.
_MAX_PASSWORD = 256
_MAX_APPLICATION_SECRET = 1024
# A "\ud800" escape parses to a lone surrogate: not Unicode text, it cannot be stored, sent on or answered.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_ECHOED_NAME = 64


def customer_id(raw: str | None) -> str:
    if raw is None or not is_customer_id(raw):
        raise invalid_customer_id()
    return raw


def json_content_type(content_type: str | None, *, has_body: bool) -> None:
    """A request that carries a body, or names a type for one, must say it is JSON: `application/json`, with
    parameters allowed and a charset, if given, of UTF-8 (the only encoding JSON has, RFC 8259). Anything else
    is refused before the body is read: so is what a page on another site can send without the browser asking
    first (text/plain, form types), which it cannot label application/json."""
    if content_type is None or not content_type.strip():
        if not has_body:
            return
        content_type = ""
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() != "application/json" or not _utf8_or_no_charset(parameters):
        raise UnsupportedMediaType("unsupportedMediaType", "The request body must be JSON, sent with the header "
                                   "Content-Type: application/json.")


def _utf8_or_no_charset(parameters: str) -> bool:
    for parameter in filter(None, (piece.strip() for piece in parameters.split(";"))):
        name, equals, value = parameter.partition("=")
        if not equals:
            return False
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return False
    return True


def json_object(body: bytes, *, required: bool = True) -> dict[str, Any]:
    """Decode a request body that must be one JSON object of at most 64 KiB."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge("payloadTooLarge", "The request body is larger than 64 KiB.")
    if not body.strip():
        if required:
            raise InputError("invalidJson", "The request body is empty; a JSON object is expected.")
        return {}
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputError("invalidJson", "The request body is not valid UTF-8 JSON.") from None
    if not isinstance(value, dict):
        raise InputError("invalidBody", "The request body must be a JSON object.")
    if _holds_surrogate(value):
        raise InputError("invalidJson", "The request body holds a \\u escape of a lone surrogate, which is not text.")
    return value


def _holds_surrogate(value: Any) -> bool:
    """Whether any name or string in a parsed JSON value holds a lone surrogate (iterative: depth is free)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _unknown_field(name: str) -> InputError:
    # Echo a name only when it is short printable ASCII: anything else could break or spoof the answer.
    if len(name) <= _MAX_ECHOED_NAME and name.isascii() and name.isprintable():
        return InputError("unknownField", f"Unknown field: {name}.", target=name)
    return InputError("unknownField", "The body holds a field this API does not know (its name is not shown).")


def _string(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InputError("missingField", f"{name} is required.", target=name)
        return None
    if not isinstance(value, str):
        raise InputError("invalidField", f"{name} must be a string.", target=name)
    if _SURROGATE.search(value):
        raise InputError("invalidField", f"{name} holds a lone surrogate, which is not text.", target=name)
    return value


def _secret(body: Mapping[str, Any], name: str, *, limit: int) -> str | None:
    value = _string(body, name, required=False)
    if value is None:
        return None
    if not value or len(value) > limit or "\x00" in value:
        raise InputError("invalidField", f"{name} must be 1 to {limit} characters.", target=name)
    return value


def _folded(value: str) -> str | None:
    """Trimmed and lower-cased, or None when not ASCII: lower() folds some other letters into ASCII ones (the
    Kelvin sign U+212A into "k"), so a look-alike would pass the check and be stored as something else."""
    return value.strip().lower() if value.isascii() else None


def customer_input(body: Mapping[str, Any]) -> CustomerInput:
    unknown = sorted(set(body) - _CUSTOMER_FIELDS - _READ_ONLY_VIEW_FIELDS)
    if unknown:
        raise _unknown_field(unknown[0])

    raw_method = _string(body, "authenticationMethod", required=True)
    try:
        method = AuthMethod(raw_method)
    except ValueError:
        raise InputError(
            "invalidAuthenticationMethod",
            "authenticationMethod must be one of: " + ", ".join(m.value for m in AuthMethod) + ".",
            target="authenticationMethod",
        ) from None

    tenant_id = _folded(_string(body, "tenantId", required=True) or "")
    if tenant_id is None or not (is_guid(tenant_id) or is_domain(tenant_id)):
        raise InputError("invalidTenantId", "tenantId must be a GUID or a domain name such as contoso.onmicrosoft.com.",
                         target="tenantId")

    email = _string(body, "m365Email", required=method is AuthMethod.PASSWORD)
    if email is not None:
        email = email.strip()
        if not is_email(email):
            raise InputError("invalidEmail", "m365Email must be an email address such as admin@contoso.com.",
                             target="m365Email")

    password = _secret(body, "password", limit=_MAX_PASSWORD)
    application_id = _string(body, "applicationId", required=False)
    if application_id is not None:
        application_id = _folded(application_id)
        if application_id is None or not is_guid(application_id):
            raise InputError("invalidField", "applicationId must be a GUID.", target="applicationId")
    application_secret = _secret(body, "applicationSecret", limit=_MAX_APPLICATION_SECRET)

    # A secret sent for another method would be stored for nothing: refuse it instead.
    if password is not None and method is not AuthMethod.PASSWORD:
        raise InputError("invalidField", "password is accepted only with authenticationMethod password.",
                         target="password")
    if method is not AuthMethod.APPLICATION and (application_id is not None or application_secret is not None):
        raise InputError(
            "invalidField",
            "applicationId and applicationSecret are accepted only with authenticationMethod application.",
            target="applicationId" if application_id is not None else "applicationSecret",
        )
    expires_at = expiry_date(body, "applicationSecretExpiresAt")
    if expires_at is not None and method is not AuthMethod.APPLICATION:
        raise InputError("invalidField", "applicationSecretExpiresAt is accepted only with authenticationMethod "
                         "application.", target="applicationSecretExpiresAt")
    return CustomerInput(
        tenant_id=tenant_id,
        authentication_method=method,
        m365_email=email,
        password=password,
        application_id=application_id,
        application_secret=application_secret,
        application_secret_expires_at=expires_at,
        expiry_given=expires_at is not None,
    )


E = TypeVar("E", Status, AuthMethod, EventType)


def _enum_param(params: Mapping[str, str], name: str, kind: type[E]) -> E | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InputError("invalidQueryParameter", f"{name} must be one of: {allowed}.", target=name) from None


_DIGITS = re.compile(r"[0-9]+")


def _top_number(raw: str, name: str, *, maximum: int) -> int:
    """A whole number from 1 to `maximum`, in ASCII digits. Leading zeros are dropped before int() sees the
    text, so no length of input reaches int()'s digit limit (a ValueError, hence a 500, past 4300 digits)."""
    significant = raw.lstrip("0") if _DIGITS.fullmatch(raw) else ""
    if not significant or len(significant) > len(str(maximum)) or int(significant) > maximum:
        raise InputError("invalidQueryParameter", f"{name} must be a whole number from 1 to {maximum}.", target=name)
    return int(significant)


def top_number(raw: str | None, name: str, *, maximum: int, default: int) -> int:
    """A query's `top`: `default` when absent, else a whole number from 1 to `maximum`."""
    return default if raw is None else _top_number(raw, name, maximum=maximum)


def status_query(params: Mapping[str, str]) -> StatusQuery:
    """Query of GET /api/status. Unknown names are ignored (the host itself adds `code`)."""
    status = _enum_param(params, "status", Status)
    method = _enum_param(params, "method", AuthMethod)
    top, token = _top_and_token(params, default=MAX_TOP)
    return StatusQuery(status=status, method=method, top=top, continuation_token=token,
                       expiring_within_days=expiring_within_days(params))


def _top_and_token(params: Mapping[str, str], *, default: int) -> tuple[int, str | None]:
    """`top` (1 to MAX_TOP, `default` when absent) and `continuationToken` of a listing's query."""
    top = default
    if (raw := params.get("top")) is not None:
        top = _top_number(raw, "top", maximum=MAX_TOP)
    token = params.get("continuationToken")
    if token is not None and not token:
        raise InputError("invalidContinuationToken", "continuationToken is empty.", target="continuationToken")
    return top, token


EVENTS_TOP = 100  # events a listing holds unless `top` says otherwise


def events_query(params: Mapping[str, str]) -> tuple[EventFilter, int, str | None]:
    """Query of GET /api/events: the filter, top (1 to MAX_TOP) and the continuation token."""
    event_type = _enum_param(params, "type", EventType)
    customer = params.get("customerId")
    if customer is not None:
        customer = customer_id(customer)
    top, token = _top_and_token(params, default=EVENTS_TOP)
    return EventFilter(type=event_type, customer_id=customer), top, token


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})
_SETTINGS_FIELDS = frozenset({"clientId", "redirectUrl", "clientSecret", "clientSecretExpiresAt"})
_READ_ONLY_SETTINGS_FIELDS = frozenset({"clientSecretConfigured", "updatedAt", "clientSecretExpiry"})


_PORT = re.compile(r"[1-9][0-9]{0,4}")


def _port_as_typed_is_plain(netloc: str) -> bool:
    """No port, or digits without leading zeros: urlsplit reads "host:" as no port and ":08443" as 8443."""
    after_host = netloc.rpartition("]")[2] if netloc.startswith("[") else netloc
    colon, port = after_host.partition(":")[1:]
    return not colon or _PORT.fullmatch(port) is not None


def redirect_url(value: str) -> str:
    """An absolute https URL (http only for localhost) whose path is exactly the consent callback's."""
    problem = InputError(
        "invalidRedirectUrl",
        f"redirectUrl must be an absolute https URL whose path is exactly {CALLBACK_PATH} "
        "(plain http only for localhost or 127.0.0.1).",
        target="redirectUrl",
    )
    if len(value) > 2048 or not value.isascii() or not value.isprintable() or " " in value:
        raise problem
    if not value.startswith(("https://", "http://")):  # the scheme as typed: urlsplit would lower-case it
        raise problem
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise problem from None
    host = parts.hostname or ""
    secure = parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK_HOSTS)
    if (not secure or not host or parts.username is not None or parts.path != CALLBACK_PATH
            or parts.query or parts.fragment or (port is not None and not 0 < port < 65536)
            or not _port_as_typed_is_plain(parts.netloc)):
        raise problem
    # hostname drops an IPv6 literal's brackets; the rule wants them, to tell it from a DNS name.
    if not is_url_host(f"[{host}]" if parts.netloc.startswith("[") else host):
        raise problem
    return value


def provider_settings_input(body: Mapping[str, Any]) -> ProviderSettingsInput:
    unknown = sorted(set(body) - _SETTINGS_FIELDS - _READ_ONLY_SETTINGS_FIELDS)
    if unknown:
        raise _unknown_field(unknown[0])
    client_id = _folded(_string(body, "clientId", required=True) or "")
    if client_id is None or not is_guid(client_id):
        raise InputError("invalidClientId", "clientId must be the GUID of the app registration (Application ID).",
                         target="clientId")
    url = redirect_url((_string(body, "redirectUrl", required=True) or "").strip())
    secret = _secret(body, "clientSecret", limit=_MAX_APPLICATION_SECRET)
    expires_at = expiry_date(body, "clientSecretExpiresAt")
    return ProviderSettingsInput(client_id=client_id, redirect_url=url, client_secret=secret,
                                 client_secret_expires_at=expires_at, expiry_given=expires_at is not None)


MAX_RUNS = 100


def run_id(raw: str | None) -> str:
    if raw is None or not is_run_id(raw):
        raise InputError("invalidRunId", "runId must be 1 to 64 letters, digits or '-'.", target="runId")
    return raw


def runs_top(params: Mapping[str, str]) -> int:
    """`top` of GET /api/runs: 1 to 100, default 20."""
    raw = params.get("top")
    if raw is None:
        return 20
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3 or not 1 <= int(raw) <= MAX_RUNS:
        raise InputError("invalidQueryParameter", f"top must be a whole number from 1 to {MAX_RUNS}.", target="top")
    return int(raw)


_CONSENT_FIELDS = frozenset({"method", "loginHint"})


def consent_input(body: Mapping[str, Any]) -> tuple[AuthMethod, str | None]:
    """Body of POST /api/consent/{customerId}: optional `method` (token, the default, or application) and
    `loginHint` (the admin's email)."""
    unknown = sorted(set(body) - _CONSENT_FIELDS)
    if unknown:
        raise _unknown_field(unknown[0])
    raw = _string(body, "method", required=False) or AuthMethod.TOKEN.value
    if raw not in (AuthMethod.TOKEN.value, AuthMethod.APPLICATION.value):
        raise InputError("invalidField", "method must be token or application.", target="method")
    raw_hint = _string(body, "loginHint", required=False)
    hint = _folded(raw_hint) if raw_hint is not None else None
    if raw_hint is not None and (hint is None or not is_email(hint)):
        raise InputError("invalidField", "loginHint must be an email address such as admin@contoso.com.",
                         target="loginHint")
    return AuthMethod(raw), hint
