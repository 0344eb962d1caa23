"""Read side of verification status: the list with its summary, and one customer with its history."""
from __future__ import annotations

from datetime import UTC, datetime

from ..domain.errors import invalid_continuation_token
from ..domain.inputs import StatusQuery
from ..domain.models import Cursor, StatusDetail, StatusPage, TenantFilter
from ..domain.ports import HistoryStore, TenantStore
from . import continuation
from .tenants import get_tenant
from .token_key import TokenKey

HISTORY_LENGTH = 20


def list_status(
    store: TenantStore, query: StatusQuery, *, keys: TokenKey, now: datetime | None = None
) -> StatusPage:
    """One page, with the counts over every tenant (kept by the store as tenants change: no scan)."""
    flt = TenantFilter(status=query.status, method=query.method)
    after = _cursor(query.continuation_token, flt, keys) if query.continuation_token is not None else None
    counts = store.count_by_status()
    page = store.list(flt, top=query.top, after=after)
    token = continuation.encode(page.next, flt, keys.current()) if page.next is not None else None
    return StatusPage(generated_at=now or datetime.now(UTC), counts=counts, tenants=page.tenants,
                      continuation_token=token)


def status_detail(store: TenantStore, history: HistoryStore, customer_id: str) -> StatusDetail:
    tenant = get_tenant(store, customer_id)
    return StatusDetail(tenant=tenant, history=history.latest(customer_id, limit=HISTORY_LENGTH))


def _cursor(token: str, flt: TenantFilter, keys: TokenKey) -> Cursor:
    key = keys.to_check()
    if key is not None and not continuation.is_signed_with(token, key):
        # Another instance may have made the key everybody agrees on after this one read its own.
        key = keys.to_check(again=True)
    if key is None:
        raise invalid_continuation_token()  # no key was ever made: no token was ever issued
    return continuation.decode(token, flt, key)
