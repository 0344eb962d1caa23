"""In-memory fakes of the ports, for unit tests of use cases and handlers (never of the adapters)."""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

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
from shared.domain.secrets import CURRENT_VERSION, SecretVersion, StoredSecret
from shared.usecases.consent import ConsentContext
from shared.usecases.limiter import ConcurrencyLimiter
from shared.usecases.token_key import TokenKey
from shared.usecases.verify import VerifyContext


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

    def get_many(self, customer_ids) -> dict[str, Tenant]:
        return {c: self.tenants[c] for c in customer_ids if c in self.tenants}

    def add(self, tenant: Tenant) -> Tenant:
        if tenant.customer_id in self.tenants:
            raise Conflict("alreadyExists", "exists")
        return self._stamp(tenant)

    def update(self, previous: Tenant, tenant: Tenant) -> Tenant:
        current = self.tenants.get(tenant.customer_id)
        if current is None or current.etag != previous.etag:
            raise Conflict("modifiedConcurrently", "changed")
        return self._stamp(tenant)

    def update_many(self, changes) -> list[Tenant]:
        for previous, tenant in changes:  # all or none, as the transaction
            current = self.tenants.get(tenant.customer_id)
            if current is None or current.etag != previous.etag:
                raise Conflict("modifiedConcurrently", "changed")
        return [self._stamp(tenant) for _, tenant in changes]

    def delete(self, tenant: Tenant) -> None:
        current = self.tenants.get(tenant.customer_id)
        if current is not None and current.etag != tenant.etag:
            raise Conflict("modifiedConcurrently", "changed")
        self.tenants.pop(tenant.customer_id, None)

    def list(self, flt: TenantFilter, *, top: int, after: Cursor | None) -> TenantPage:
        start = after or ""
        rows = [
            t for key, t in sorted(self.tenants.items())
            if key >= start
            and (flt.status is None or t.last_verification_status == flt.status)
            and (flt.method is None or t.authentication_method == flt.method)
        ]
        page, more = rows[:top], len(rows) > top
        return TenantPage(page, rows[top].customer_id if more else None)  # its cursor: the next customerId

    def list_ids(self, *, top: int, after: Cursor | None) -> tuple[list[str], Cursor | None]:
        page = self.list(TenantFilter(), top=top, after=after)
        return [t.customer_id for t in page.tenants], page.next

    def count_by_status(self) -> dict[Status, int]:
        counts = {s: 0 for s in Status}
        for t in self.tenants.values():
            counts[t.last_verification_status] += 1
        return counts

    recount_by_status = count_by_status


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
    """Versions kept in order of writing; `values` shows what a record's version resolves to."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str | None, str], dict[str, tuple[str, datetime]]] = {}
        self.fail_with: Exception | None = None
        self._ids = itertools.count(1)

    @property
    def values(self) -> dict[tuple[str | None, str], str]:
        """The newest readable value of each secret."""
        return {key: list(found.values())[-1][0] for key, found in self.stored.items() if found}

    def put(self, customer_id: str | None, name: str, value: str) -> str:
        if self.fail_with:
            raise self.fail_with
        version = f"v{next(self._ids)}"
        self.stored.setdefault((customer_id, name), {})[version] = (value, datetime.now(UTC))
        return version

    def get(self, customer_id: str | None, name: str, version: str) -> str | None:
        found = self.stored.get((customer_id, name), {})
        if version == CURRENT_VERSION and found:
            version = list(found)[-1]
        return found[version][0] if version in found else None

    def retire(self, customer_id: str | None, name: str, version: str) -> None:
        if self.fail_with:
            raise self.fail_with
        self.stored.get((customer_id, name), {}).pop(version, None)

    def delete(self, customer_id: str | None, name: str) -> None:
        if self.fail_with:
            raise self.fail_with
        self.stored.pop((customer_id, name), None)

    def versions(self, customer_id: str | None, name: str) -> tuple[SecretVersion, ...]:
        return tuple(SecretVersion(v, at) for v, (_, at) in self.stored.get((customer_id, name), {}).items())

    def inventory(self) -> Iterator[StoredSecret]:
        for (customer_id, name), found in list(self.stored.items()):
            yield StoredSecret(customer_id, str(name), tuple(SecretVersion(v, at) for v, (_, at) in found.items()))


def fake_services() -> Services:
    """Fresh fakes behind every port, ready for bootstrap.use()."""
    from tests.support.verification_fakes import (
        InMemoryConsentStates,
        InMemoryRunStore,
        InMemoryWorkQueue,
        ScriptedConsentPlatform,
        ScriptedPlatform,
    )

    secrets, tenants, history = InMemorySecretStore(), InMemoryTenantStore(), InMemoryHistoryStore()
    provider_settings = InMemoryProviderSettingsStore()
    verification = VerifyContext(
        tenants=tenants, history=history, secrets=secrets, provider_settings=provider_settings,
        platform=ScriptedPlatform(), limiter=ConcurrencyLimiter(4), required_roles=("User.Read.All",),
    )
    return Services(
        config=None,
        tenants=tenants,
        history=history,
        secrets=secrets,
        provider_settings=provider_settings,
        token_keys=TokenKey(secrets),
        verification=verification,
        runs=InMemoryRunStore(),
        work=InMemoryWorkQueue(),
        consent=ConsentContext(verification=verification, states=InMemoryConsentStates(),
                               platform=ScriptedConsentPlatform(), scopes=("https://graph.microsoft.com/.default",),
                               application_scope="https://graph.microsoft.com/.default"),
    )
