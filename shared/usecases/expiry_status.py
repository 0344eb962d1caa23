"""Foresight's part of GET /api/status: `summary.expiring` and the provider's client secret line."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..domain.expiry import Part
from ..domain.expiry_bands import SUMMARY_WINDOWS, expiring_counts
from ..domain.expiry_record import provider_secret_part
from ..domain.ports import ExpiryIndex, ProviderSettingsStore


def expiring_summary(index: ExpiryIndex, settings: ProviderSettingsStore, *, now: datetime,
                     graph_reads: bool = True) -> tuple[dict[int, int], Part]:
    """How many customers fail within 7 and 30 days (a query of those few only, not a scan of every customer), and
    the provider's client secret's expiry (`graph_reads` False: PROVIDER_TENANT_ID is empty)."""
    times = index.expiring_by(now + timedelta(days=max(SUMMARY_WINDOWS)))
    return expiring_counts(times, now=now), provider_secret_part(settings.get(), graph_reads=graph_reads)
