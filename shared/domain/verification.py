"""Verification: its outcome, what the identity platform answers, and when two records are the same sign-in to it."""
from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .models import AuthMethod, Customer, Status
from .reasons import Reason


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """One verification's outcome, returned as data (never raised)."""

    customer_id: str
    status: Status
    verified_at: datetime
    method: AuthMethod
    reason: Reason | None = None
    message: str | None = None
    aadsts_code: int | None = None
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class AppCredential:
    """An app registration's client id and secret, as a token request sends them."""

    client_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    """What the identity platform answered to one token request, after retries.

    Success: `claims` of the access token (tid, roles, ...) and, for user grants, the new refresh token.
    Failure: the OAuth `error`, its `error_codes` and `description`; or `transport` (THROTTLED, UNREACHABLE)
    when no usable answer came before the attempts or the deadline ran out.
    """

    claims: Mapping[str, Any] | None = None
    identity: Mapping[str, Any] | None = None  # the ID token's claims (tid, preferred_username), for user grants
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)  # for foresight's Graph reads; never kept
    error: str | None = None
    error_codes: tuple[int, ...] = ()
    description: str | None = None
    transport: Reason | None = None
    throttled: int = 0  # how many 429 answers came before this one

    @property
    def ok(self) -> bool:
        return self.claims is not None


# ASCII letters only: the identity platform matches UPNs and domain names without regard to letter case, and
# DNS (RFC 4343) defines that case-insensitivity for ASCII only.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _case_blind(value: str | None) -> str | None:
    return value.translate(_ASCII_LOWER) if value is not None else None


def same_tenant(a: str, b: str) -> bool:
    """Whether two tenant ids (GUIDs or domain names) name the same tenant as the identity platform reads them."""
    return _case_blind(a) == _case_blind(b)


def same_verification_inputs(a: Customer, b: Customer) -> bool:
    """Whether a verification of either record sends the identity platform the same sign-in (method, tenant id,
    email, application id, secret versions), as the platform tells values apart. So an edit that changes only
    the letter case of the email (a UPN) or of a domain tenant id keeps the last verification, and with it the
    lockout guard; and a result is written only onto a record whose inputs are still those verified."""
    return _inputs(a) == _inputs(b)


def _inputs(customer: Customer) -> tuple[Any, ...]:
    return (customer.authentication_method, _case_blind(customer.tenant_id), _case_blind(customer.m365_email),
            _case_blind(customer.application_id), tuple(sorted(customer.secret_versions.items())))
