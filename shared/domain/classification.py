"""How an identity-platform failure becomes a Reason, a message and a hint for the operator.

Classified by the numeric AADSTS code (`error_codes`, else `AADSTSnnnn` in the description), never by the
message's wording, which Microsoft changes and localises.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .models import AuthMethod
from .reasons import Reason

MAX_MESSAGE_CHARS = 500

CODES: dict[int, Reason] = {
    50126: Reason.INVALID_CREDENTIALS,
    50076: Reason.MFA_REQUIRED, 50079: Reason.MFA_REQUIRED, 50074: Reason.MFA_REQUIRED,
    53000: Reason.BLOCKED_BY_POLICY, 53001: Reason.BLOCKED_BY_POLICY, 53002: Reason.BLOCKED_BY_POLICY,
    53003: Reason.BLOCKED_BY_POLICY, 530003: Reason.BLOCKED_BY_POLICY, 530035: Reason.BLOCKED_BY_POLICY,
    65001: Reason.CONSENT_REQUIRED, 500011: Reason.CONSENT_REQUIRED, 650051: Reason.CONSENT_REQUIRED,
    65004: Reason.CONSENT_DENIED,
    700082: Reason.TOKEN_EXPIRED, 70008: Reason.TOKEN_EXPIRED, 70043: Reason.TOKEN_EXPIRED,
    50173: Reason.TOKEN_REVOKED, 50133: Reason.TOKEN_REVOKED,
    50053: Reason.ACCOUNT_LOCKED,
    50057: Reason.ACCOUNT_DISABLED,
    50055: Reason.PASSWORD_EXPIRED,
    50034: Reason.USER_NOT_FOUND,
    7000215: Reason.INVALID_CLIENT_SECRET,
    7000222: Reason.CLIENT_SECRET_EXPIRED,
    700016: Reason.APPLICATION_NOT_FOUND,
    90002: Reason.TENANT_NOT_FOUND, 900023: Reason.TENANT_NOT_FOUND,
}

_SWITCH_TO_TOKEN = ("Switch this customer to token authentication: Grant Consent and send the link to the "
                    "customer's admin.")
HINTS: dict[Reason, str] = {
    Reason.INVALID_CREDENTIALS: "Check the admin's user name and password and store the current password.",
    Reason.MFA_REQUIRED: "The account requires multi-factor authentication, which a stored password cannot "
                         "pass. " + _SWITCH_TO_TOKEN,
    Reason.BLOCKED_BY_POLICY: "The customer's Conditional Access or security defaults block this sign-in. "
                              + _SWITCH_TO_TOKEN,
    Reason.CONSENT_REQUIRED: "The customer's admin has not consented to the app: Grant Consent and send the "
                             "link to the customer's admin.",
    Reason.CONSENT_DENIED: "The customer's admin declined consent: ask them to grant it with a new link.",
    Reason.TOKEN_EXPIRED: "The stored refresh token has expired: Grant Consent again and send the link to the "
                          "customer's admin.",
    Reason.TOKEN_REVOKED: "The refresh token was revoked (password reset or sessions revoked): Grant Consent "
                          "again.",
    Reason.ACCOUNT_LOCKED: "The account is locked after failed sign-ins; it is not retried by scheduled runs "
                           "until its password changes. Ask the customer's admin to unlock it.",
    Reason.ACCOUNT_DISABLED: "The account is disabled in the customer's tenant: ask the customer's admin to "
                             "enable it, or use another account.",
    Reason.PASSWORD_EXPIRED: "The password has expired: have it changed in the customer's tenant, then store "
                             "the new one.",
    Reason.USER_NOT_FOUND: "No such user in the customer's tenant: check the M365 email and the tenant id.",
    Reason.INVALID_CLIENT_SECRET: "The client secret is wrong: store the secret's Value (not its ID).",
    Reason.CLIENT_SECRET_EXPIRED: "The client secret has expired: create a new one in the app registration "
                                  "and store it.",
    Reason.APPLICATION_NOT_FOUND: "The app registration was not found in this tenant: check the application "
                                  "id, or Grant Consent so the app exists there.",
    Reason.TENANT_NOT_FOUND: "No such tenant: check the tenant id (a GUID or a verified domain).",
    Reason.MISSING_PERMISSIONS: "Grant the missing application permissions (admin consent) in the customer's "
                                "tenant.",
    Reason.THROTTLED: "Microsoft throttled the requests; the next run tries again.",
    Reason.UNREACHABLE: "The Microsoft identity platform could not be reached; the next run tries again.",
    Reason.UNKNOWN_ERROR: "Look up the AADSTS code in Microsoft's error reference.",
}

_AADSTS = re.compile(r"AADSTS(\d{4,9})")
# Lines Entra appends to every description; they identify a request, not the problem.
_NOISE = re.compile(r"\s*(Trace ID|Correlation ID|Timestamp):.*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Failure:
    reason: Reason
    message: str | None
    aadsts_code: int | None
    hint: str | None


def aadsts_code(error_codes: Iterable[object] | None, description: str | None) -> int | None:
    for code in error_codes or ():
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    found = _AADSTS.search(description or "")
    return int(found.group(1)) if found else None


def classify(
    error_codes: Iterable[object] | None, description: str | None, *, method: AuthMethod
) -> Failure:
    code = aadsts_code(error_codes, description)
    reason = CODES.get(code, Reason.UNKNOWN_ERROR) if code is not None else Reason.UNKNOWN_ERROR
    return failure(reason, message=description, aadsts_code=code, method=method)


def failure(
    reason: Reason, *, message: str | None = None, aadsts_code: int | None = None, method: AuthMethod,
    hint: str | None = None,
) -> Failure:
    if hint is None:
        hint = HINTS.get(reason)
        if reason is Reason.INVALID_CREDENTIALS and method is not AuthMethod.PASSWORD:
            hint = "The stored credential was refused: check it, or Grant Consent again."
    return Failure(reason=reason, message=first_line(message), aadsts_code=aadsts_code, hint=hint)


def first_line(message: str | None) -> str | None:
    """The provider's first line, without trace and correlation ids, trimmed, at most 500 characters."""
    for line in (message or "").splitlines():
        line = _NOISE.sub("", line).strip()
        if line:
            return line[:MAX_MESSAGE_CHARS]
    return None
