"""The typed inputs the use cases take; functions/parsing.py builds them from HTTP requests.

Secret fields are write-only: their reprs leave them out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .models import AuthMethod, Status


@dataclass(frozen=True, slots=True)
class CustomerInput:
    """A validated PUT /api/tenants body."""

    tenant_id: str
    authentication_method: AuthMethod
    m365_email: str | None
    password: str | None = field(default=None, repr=False)
    application_id: str | None = None
    application_secret: str | None = field(default=None, repr=False)
    # applicationSecretExpiresAt: absent or null keeps the date while the secret stays (a new secret drops it)
    application_secret_expires_at: datetime | None = None
    expiry_given: bool = False


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
    client_secret: str | None = field(repr=False)
    # clientSecretExpiresAt: absent or null keeps the date while the secret stays (a new secret drops it)
    client_secret_expires_at: datetime | None = None
    expiry_given: bool = False
