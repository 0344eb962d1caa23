"""Foresight's part of GET /api/status: `summary.expiring` and the provider's client secret line."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from ..domain.expiry_bands import SUMMARY_WINDOWS, expiring_counts
from ..domain.expiry_record import provider_secret_part
from ..domain.models import StatusListing
from ..domain.ports import ExpiryIndex, ProviderSettingsStore


def with_expiring_summary(listing: StatusListing, index: ExpiryIndex, settings: ProviderSettingsStore, *,
                          now: datetime, graph_reads: bool = True) -> StatusListing:
    """The listing with how many customers fail within 7 and 30 days (a query of those few only, not a scan of
    every customer) and the provider's client secret's expiry (`graph_reads` False: PROVIDER_TENANT_ID is empty)."""
    times = index.expiring_by(now + timedelta(days=max(SUMMARY_WINDOWS)))
    return dataclasses.replace(listing, expiring=expiring_counts(times, now=now),
                               provider_secret=provider_secret_part(settings.get(), graph_reads=graph_reads))
