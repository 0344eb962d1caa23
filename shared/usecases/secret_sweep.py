"""The sweep: retire every secret version that no record names (a customer that is gone names none).

What the write rule (usecases/secret_writes.py) cannot clean up itself (a crash between its steps, a store
that failed on retire, a DELETE that could not finish) is found here. Versions younger than `grace` are
left alone: a write in flight has added its version but not yet moved its record's pointer. The sweep only
retires versions, never deletes a whole secret: a customer re-created under the same id meanwhile writes
new versions of the same secret, which a delete of the name would take with it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..domain.models import ProviderSecret
from ..domain.ports import ProviderSettingsStore, SecretStore, TenantStore
from ..domain.secrets import CURRENT_VERSION, SecretName, StoredSecret

logger = logging.getLogger(__name__)

GRACE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SweepReport:
    secrets_seen: int
    versions_retired: int


def sweep_secrets(
    tenants: TenantStore,
    provider_settings: ProviderSettingsStore,
    secrets: SecretStore,
    *,
    now: datetime | None = None,
    grace: timedelta = GRACE,
) -> SweepReport:
    cutoff = (now or datetime.now(UTC)) - grace
    seen = retired = 0
    for stored in secrets.inventory():
        seen += 1
        if stored.customer_id is None and stored.name == ProviderSecret.TOKEN_KEY:
            continue  # no record names it; every instance uses its oldest version
        named = _named_by_record(stored, tenants, provider_settings)
        if CURRENT_VERSION in named and stored.versions:
            named = {max(stored.versions, key=lambda v: v.created_at).version}  # a record from before versions
        for version in stored.versions:
            if version.created_at <= cutoff and version.version not in named:
                secrets.retire(stored.customer_id, _kind(stored), version.version)
                retired += 1
    report = SweepReport(secrets_seen=seen, versions_retired=retired)
    logger.info("Secret sweep: %d secrets seen, %d versions retired.", report.secrets_seen, report.versions_retired)
    return report


def _kind(stored: StoredSecret) -> SecretName | ProviderSecret:
    return ProviderSecret(stored.name) if stored.customer_id is None else SecretName(stored.name)


def _named_by_record(
    stored: StoredSecret, tenants: TenantStore, provider_settings: ProviderSettingsStore
) -> set[str]:
    """The versions of this secret that its owner's record names (none when the record is gone)."""
    if stored.customer_id is None:
        settings = provider_settings.get()
        version = settings.client_secret_version if settings else None
    else:
        tenant = tenants.get(stored.customer_id)
        if tenant is not None and stored.name == SecretName.CONSENT_FLOW:
            version = tenant.pending_consent.flow_version if tenant.pending_consent else None
        else:
            version = tenant.secret_versions.get(SecretName(stored.name)) if tenant else None
    return {version} if version is not None else set()
