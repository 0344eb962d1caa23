"""The sweep: retire every secret version no record names once it has been out of use for `grace`
(README, "Records and secrets that cannot disagree").
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..domain.ports import ChannelStore, CustomerStore, ProviderSettingsStore, SecretStore
from ..domain.secrets import (
    AnySecret,
    ChannelSecret,
    ProviderSecret,
    SecretKind,
    SecretVersion,
    StoredSecret,
    newest_first,
)

logger = logging.getLogger(__name__)

GRACE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SweepReport:
    secrets_seen: int
    versions_retired: int


def sweep_secrets(
    customers: CustomerStore,
    provider_settings: ProviderSettingsStore,
    secrets: SecretStore,
    *,
    now: datetime | None = None,
    grace: timedelta = GRACE,
    channels: ChannelStore | None = None,
) -> SweepReport:
    """`channels` None leaves alert channels' secrets alone."""
    cutoff = (now or datetime.now(UTC)) - grace
    seen = retired = 0
    for stored in secrets.list_secrets():
        seen += 1
        if stored.customer_id is None and stored.kind == ProviderSecret.TOKEN_KEY:
            continue  # no record names it; every instance uses its oldest version
        if _is_channel_secret(stored) and channels is None:
            continue
        named = _named_by_record(stored, customers, provider_settings, channels)
        held = {version.version for version in stored.versions}
        if stored.versions and not named <= held:
            # A record whose version is gone reads the newest one.
            named |= {newest_first(stored.versions)[0].version}
        for version, out_of_use_since in _out_of_use_since(stored.versions):
            if out_of_use_since <= cutoff and version.version not in named:
                secrets.retire_version(stored.customer_id, _kind(stored), version.version)
                retired += 1
    report = SweepReport(secrets_seen=seen, versions_retired=retired)
    logger.info("Secret sweep: %d secrets seen, %d versions retired.", report.secrets_seen, report.versions_retired)
    return report


def _out_of_use_since(versions: tuple[SecretVersion, ...]) -> list[tuple[SecretVersion, datetime]]:
    """Each version with the time the next one was written (the newest: its own)."""
    ordered = newest_first(versions)
    return [(version, ordered[max(i - 1, 0)].created_at) for i, version in enumerate(ordered)]


def _is_channel_secret(stored: StoredSecret) -> bool:
    return stored.customer_id is not None and stored.kind in {kind.value for kind in ChannelSecret}


def _kind(stored: StoredSecret) -> AnySecret:
    if _is_channel_secret(stored):
        return ChannelSecret(stored.kind)
    return ProviderSecret(stored.kind) if stored.customer_id is None else SecretKind(stored.kind)


def _named_by_record(
    stored: StoredSecret, customers: CustomerStore, provider_settings: ProviderSettingsStore,
    channels: ChannelStore | None,
) -> set[str]:
    """The versions of this secret that its owner's record names (none when the record is gone)."""
    if channels is not None and _is_channel_secret(stored):
        assert stored.customer_id is not None
        channel = channels.get(stored.customer_id)
        version = channel.secret_versions.get(ChannelSecret(stored.kind)) if channel else None
    elif stored.customer_id is None:
        settings = provider_settings.get()
        version = settings.client_secret_version if settings else None
    else:
        customer = customers.get(stored.customer_id)
        if customer is not None and stored.kind == SecretKind.CONSENT_FLOW:
            version = customer.pending_consent.flow_version if customer.pending_consent else None
        else:
            version = customer.secret_versions.get(SecretKind(stored.kind)) if customer else None
    return {version} if version is not None else set()
