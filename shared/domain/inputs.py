"""The typed inputs the use cases take; functions/parsing.py builds them from HTTP requests.

Secret fields are write-only: their reprs say whether one is set, never what it is.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import AuthMethod, Status


@dataclass(frozen=True, slots=True)
class CustomerInput:
    """A validated PUT /api/tenants body."""

    tenant_id: str
    authentication_method: AuthMethod
    m365_email: str | None
    password: str | None = None
    application_id: str | None = None
    application_secret: str | None = None
    # applicationSecretExpiresAt: absent or null keeps the date while the secret stays (a new secret drops it)
    application_secret_expires_at: datetime | None = None
    expiry_given: bool = False

    def __repr__(self) -> str:
        return (
            f"CustomerInput(tenant_id={self.tenant_id!r}, authentication_method={self.authentication_method!r}, "
            f"m365_email={self.m365_email!r}, application_id={self.application_id!r}, "
            f"password={'<set>' if self.password else None}, "
            f"application_secret={'<set>' if self.application_secret else None})"
        )


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """The query of GET /api/status."""

    status: Status | None
    method: AuthMethod | None
    top: int
    continuation_token: str | None
    expiring_within_days: int | None = None


@dataclass(frozen=True, slots=True)
class ProviderSettingsInput:
    """A validated PUT /api/settings body (Apply Changes); no client secret means keep the stored one."""

    client_id: str
    redirect_url: str
    client_secret: str | None
    # clientSecretExpiresAt: absent or null keeps the date while the secret stays (a new secret drops it)
    client_secret_expires_at: datetime | None = None
    expiry_given: bool = False

    def __repr__(self) -> str:
        return (f"ProviderSettingsInput(client_id={self.client_id!r}, redirect_url={self.redirect_url!r}, "
                f"client_secret={'<set>' if self.client_secret else None})")
