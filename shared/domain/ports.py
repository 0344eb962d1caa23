"""The ports the use cases depend on; shared/adapters implement them, unit tests pass fakes."""
from __future__ import annotations

from typing import Protocol

from .models import (
    Cursor,
    ProviderSecret,
    ProviderSettings,
    SecretName,
    Status,
    Tenant,
    TenantFilter,
    TenantPage,
    VerificationResult,
)


class TenantStore(Protocol):
    def get(self, customer_id: str) -> Tenant | None: ...

    def add(self, tenant: Tenant) -> Tenant:
        """Insert a new tenant; raises errors.Conflict when the customerId exists."""

    def update(self, tenant: Tenant) -> Tenant:
        """Replace a tenant read before (its etag must still match); raises errors.Conflict otherwise."""

    def delete(self, customer_id: str) -> bool:
        """Remove the tenant record; False when there was nothing to remove."""

    def list(self, flt: TenantFilter, *, top: int, after: Cursor | None) -> TenantPage:
        """One page in customerId order, from `after` (a cursor a page of this filter returned)."""

    def count_by_status(self) -> dict[Status, int]:
        """Counts over every tenant (not a page)."""


class HistoryStore(Protocol):
    """Every verification result of every customer."""

    def append(self, result: VerificationResult) -> None: ...

    def latest(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
        """Newest first."""

    def delete_all(self, customer_id: str) -> None:
        """Remove a customer's history; nothing to remove is not an error."""


class ProviderSettingsStore(Protocol):
    def get(self) -> ProviderSettings | None: ...

    def save(self, settings: ProviderSettings) -> ProviderSettings:
        """Insert, or replace the record read before (etag must match); raises errors.Conflict otherwise."""


class SecretStore(Protocol):
    """customer_id None addresses the provider's own secrets (ProviderSecret)."""

    def set(self, customer_id: str | None, name: SecretName | ProviderSecret, value: str) -> None: ...

    def get(self, customer_id: str | None, name: SecretName | ProviderSecret) -> str | None: ...

    def delete(self, customer_id: str | None, name: SecretName | ProviderSecret) -> None:
        """Idempotent: deleting a secret that does not exist is not an error."""
