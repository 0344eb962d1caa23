"""In-memory fakes of the ports, for unit tests of use cases and handlers (never of the adapters)."""
from __future__ import annotations

import dataclasses
import itertools

from shared.bootstrap import Services
from shared.domain.errors import Conflict
from shared.domain.models import (
    Cursor,
    ProviderSettings,
    Status,
    Tenant,
    TenantFilter,
    TenantPage,
    VerificationResult,
)


class InMemoryTenantStore:
    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self._etags = itertools.count(1)

    def _stamp(self, tenant: Tenant) -> Tenant:
        tenant = dataclasses.replace(tenant, etag=f"W/{next(self._etags)}")
        self.tenants[tenant.customer_id] = tenant
        return tenant

    def get(self, customer_id: str) -> Tenant | None:
        return self.tenants.get(customer_id)

    def add(self, tenant: Tenant) -> Tenant:
        if tenant.customer_id in self.tenants:
            raise Conflict("alreadyExists", "exists")
        return self._stamp(tenant)

    def update(self, tenant: Tenant) -> Tenant:
        current = self.tenants.get(tenant.customer_id)
        if current is None or current.etag != tenant.etag:
            raise Conflict("modifiedConcurrently", "changed")
        return self._stamp(tenant)

    def delete(self, customer_id: str) -> bool:
        return self.tenants.pop(customer_id, None) is not None

    def list(self, flt: TenantFilter, *, top: int, after: Cursor | None) -> TenantPage:
        start = after.row or "" if after is not None else ""
        rows = [
            t for key, t in sorted(self.tenants.items())
            if key >= start
            and (flt.status is None or t.last_verification_status == flt.status)
            and (flt.method is None or t.authentication_method == flt.method)
        ]
        page, more = rows[:top], len(rows) > top
        return TenantPage(page, Cursor("tenant", rows[top].customer_id) if more else None)

    def count_by_status(self) -> dict[Status, int]:
        counts = {s: 0 for s in Status}
        for t in self.tenants.values():
            counts[t.last_verification_status] += 1
        return counts


class InMemoryHistoryStore:
    def __init__(self) -> None:
        self.results: dict[str, list[VerificationResult]] = {}

    def append(self, result: VerificationResult) -> None:
        self.results.setdefault(result.customer_id, []).append(result)

    def latest(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
        rows = sorted(self.results.get(customer_id, []), key=lambda r: r.verified_at, reverse=True)
        return rows[:limit]

    def delete_all(self, customer_id: str) -> None:
        self.results.pop(customer_id, None)


class InMemoryProviderSettingsStore:
    def __init__(self) -> None:
        self.settings: ProviderSettings | None = None
        self._etags = itertools.count(1)

    def get(self) -> ProviderSettings | None:
        return self.settings

    def save(self, settings: ProviderSettings) -> ProviderSettings:
        current_etag = self.settings.etag if self.settings else None
        if settings.etag != current_etag:
            raise Conflict("modifiedConcurrently", "changed")
        self.settings = dataclasses.replace(settings, etag=f"W/{next(self._etags)}")
        return self.settings


class InMemorySecretStore:
    def __init__(self) -> None:
        self.values: dict[tuple[str | None, str], str] = {}
        self.fail_with: Exception | None = None

    def set(self, customer_id: str | None, name: str, value: str) -> None:
        if self.fail_with:
            raise self.fail_with
        self.values[(customer_id, name)] = value

    def get(self, customer_id: str | None, name: str) -> str | None:
        return self.values.get((customer_id, name))

    def delete(self, customer_id: str | None, name: str) -> None:
        if self.fail_with:
            raise self.fail_with
        self.values.pop((customer_id, name), None)


def fake_services() -> Services:
    """Fresh fakes behind every port, ready for bootstrap.use()."""
    return Services(
        config=None,
        tenants=InMemoryTenantStore(),
        history=InMemoryHistoryStore(),
        secrets=InMemorySecretStore(),
        provider_settings=InMemoryProviderSettingsStore(),
    )
