"""Read side of verification status: the list with its summary, and one customer with its history."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..domain.inputs import StatusQuery
from ..domain.models import StatusDetail, StatusPage, TenantFilter
from ..domain.ports import HistoryStore, TenantStore
from . import continuation
from .tenants import get_tenant

HISTORY_LENGTH = 20
# The summary counts every tenant, which costs a read of every tenant's status. A walk through the pages
# reuses the counts taken for its first page (carried in the continuation token) while they are this fresh,
# so walking N pages costs one count, not N; an older token gets a fresh count.
SUMMARY_REUSE = timedelta(seconds=60)


def list_status(store: TenantStore, query: StatusQuery, *, now: datetime | None = None) -> StatusPage:
    now = now or datetime.now(UTC)
    flt = TenantFilter(status=query.status, method=query.method)
    after, counts, counted_at = None, None, now
    if query.continuation_token is not None:
        carried = continuation.decode(query.continuation_token, flt)
        after = carried.cursor
        if carried.counted_at <= now and now - carried.counted_at <= SUMMARY_REUSE:
            counts, counted_at = carried.counts, carried.counted_at
    if counts is None:
        counts = store.count_by_status()
    page = store.list(flt, top=query.top, after=after)
    token = None
    if page.next is not None:
        token = continuation.encode(continuation.Continuation(page.next, counts, counted_at), flt)
    return StatusPage(generated_at=now, counts=counts, tenants=page.tenants, continuation_token=token)


def status_detail(store: TenantStore, history: HistoryStore, customer_id: str) -> StatusDetail:
    tenant = get_tenant(store, customer_id)
    return StatusDetail(tenant=tenant, history=history.latest(customer_id, limit=HISTORY_LENGTH))
