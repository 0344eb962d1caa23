"""Why a verification failed: the contract's reasons, each named for what the operator must fix."""
from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Why a verification failed (`lastVerificationReason`); the design maps AADSTS codes onto them."""

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
