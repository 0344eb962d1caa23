"""The domain's values: frozen dataclasses and string enums that serialize as the contract spells them."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class AuthMethod(enum.StrEnum):
    PASSWORD = "password"
    TOKEN = "token"
    APPLICATION = "application"


class Status(enum.StrEnum):
    NOT_VERIFIED = "notVerified"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Reason(enum.StrEnum):
    INVALID_CREDENTIALS = "invalidCredentials"
    MFA_REQUIRED = "mfaRequired"
    BLOCKED_BY_POLICY = "blockedByPolicy"
    CONSENT_REQUIRED = "consentRequired"
    CONSENT_DENIED = "consentDenied"
    TOKEN_EXPIRED = "tokenExpired"
    TOKEN_REVOKED = "tokenRevoked"
    ACCOUNT_LOCKED = "accountLocked"
    ACCOUNT_DISABLED = "accountDisabled"
    PASSWORD_EXPIRED = "passwordExpired"
    USER_NOT_FOUND = "userNotFound"
    INVALID_CLIENT_SECRET = "invalidClientSecret"
    CLIENT_SECRET_EXPIRED = "clientSecretExpired"
    APPLICATION_NOT_FOUND = "applicationNotFound"
    TENANT_NOT_FOUND = "tenantNotFound"
    MISSING_PERMISSIONS = "missingPermissions"
    THROTTLED = "throttled"
    UNREACHABLE = "unreachable"
    NOT_CONFIGURED = "notConfigured"
    UNKNOWN_ERROR = "unknownError"


class SecretName(enum.StrEnum):
    """The kinds of secret a customer can hold; the values are what `secretsConfigured` lists."""

    PASSWORD = "password"
    REFRESH_TOKEN = "refreshToken"
    APPLICATION_SECRET = "applicationSecret"


class ProviderSecret(enum.StrEnum):
    """Secrets of the service provider itself (not of a customer)."""

    CLIENT_SECRET = "clientSecret"


# The secret each method needs before it can be verified.
REQUIRED_SECRET: dict[AuthMethod, SecretName] = {
    AuthMethod.PASSWORD: SecretName.PASSWORD,
    AuthMethod.TOKEN: SecretName.REFRESH_TOKEN,
    AuthMethod.APPLICATION: SecretName.APPLICATION_SECRET,
}


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
class Tenant:
    """A customer and the one way the provider reaches its Microsoft 365. Holds no secret values."""

    customer_id: str
    tenant_id: str
    authentication_method: AuthMethod
    m365_email: str | None = None
    application_id: str | None = None
    secrets_configured: frozenset[SecretName] = field(default_factory=frozenset)
    last_verification_status: Status = Status.NOT_VERIFIED
    when_last_verified: datetime | None = None
    last_verification_reason: Reason | None = None
    last_verification_message: str | None = None
    aadsts_code: int | None = None
    hint: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    etag: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """The provider's own app registration, used for consent. The client secret lives in the SecretStore."""

    client_id: str | None = None
    redirect_url: str | None = None
    client_secret_configured: bool = False
    updated_at: datetime | None = None
    etag: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class TenantPage:
    tenants: list[Tenant]
    continuation_token: str | None


@dataclass(frozen=True, slots=True)
class TenantFilter:
    status: Status | None = None
    method: AuthMethod | None = None
