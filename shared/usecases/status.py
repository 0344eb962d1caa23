"""Read side of verification status: the list with its summary, and one customer with its history."""
from __future__ import annotations

import dataclasses
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta

from ..domain.inputs import StatusQuery
from ..domain.models import Cursor, CustomerFilter, StatusDetail, StatusListing
from ..domain.ports import CustomerStore, HistoryStore, ProviderSettingsStore
from ..domain.rules import HISTORY_KEPT
from . import continuation
from .customers import get_customer
from .expiry_status import expiring_summary
from .token_key import TokenKey


def list_status(
    store: CustomerStore, query: StatusQuery, *, keys: TokenKey, now: datetime | None = None,
    settings: ProviderSettingsStore | None = None, graph_reads: bool = True, reads: Executor | None = None,
) -> StatusListing:
    """One listing, with the counts over every customer (kept by the store as customers change: no scan). With
    `settings`, also foresight's summary (usecases/expiry_status.py; `graph_reads`: PROVIDER_TENANT_ID is set).
    With `reads`, the page is read on one of its threads, asked for first, while this thread reads the summary (the
    kept counts, the customers expiring soon, the settings): the service answers the page first, and turning it into
    customers overlaps the summary's round trips instead of following them."""
    now = now or datetime.now(UTC)
    within = query.expiring_within_days
    flt = CustomerFilter(status=query.status, method=query.method,
                         expires_before=now + timedelta(days=within) if within is not None else None)
    after = _cursor(query.continuation_token, flt, keys, within) if query.continuation_token is not None else None
    listed = reads.submit(store.list_shown, flt, top=query.top, after=after) if reads is not None else None
    counts = store.get_status_counts()
    foresight = expiring_summary(store, settings, now=now, graph_reads=graph_reads) if settings is not None else None
    listing = listed.result() if listed is not None else store.list_shown(flt, top=query.top, after=after)
    token = (continuation.encode(listing.next, flt, keys.current(), expiring_within_days=within)
             if listing.next is not None else None)
    answer = StatusListing(generated_at=now, counts=counts, customers=listing.customers, continuation_token=token)
    if foresight is None:
        return answer
    expiring, provider_secret = foresight
    return dataclasses.replace(answer, expiring=expiring, provider_secret=provider_secret)


def status_detail(store: CustomerStore, history: HistoryStore, customer_id: str) -> StatusDetail:
    customer = get_customer(store, customer_id)
    return StatusDetail(customer=customer, history=history.list_latest(customer_id, limit=HISTORY_KEPT))


def _cursor(token: str, flt: CustomerFilter, keys: TokenKey, within: int | None) -> Cursor:
    key = continuation.key_to_check(token, keys)
    return continuation.decode(token, flt, key, expiring_within_days=within)
