"""Read side of verification status: the list with its summary, and one customer with its history."""
from __future__ import annotations

from datetime import UTC, datetime

from ..domain.errors import invalid_continuation_token
from ..domain.inputs import StatusQuery
from ..domain.models import Cursor, CustomerFilter, StatusDetail, StatusListing
from ..domain.ports import CustomerStore, HistoryStore
from . import continuation
from .customers import get_customer
from .token_key import TokenKey

HISTORY_LENGTH = 20


def list_status(
    store: CustomerStore, query: StatusQuery, *, keys: TokenKey, now: datetime | None = None
) -> StatusListing:
    """One listing, with the counts over every customer (kept by the store as customers change: no scan)."""
    flt = CustomerFilter(status=query.status, method=query.method)
    after = _cursor(query.continuation_token, flt, keys) if query.continuation_token is not None else None
    counts = store.get_status_counts()
    listing = store.list(flt, top=query.top, after=after)
    token = continuation.encode(listing.next, flt, keys.current()) if listing.next is not None else None
    return StatusListing(generated_at=now or datetime.now(UTC), counts=counts, customers=listing.customers,
                         continuation_token=token)


def status_detail(store: CustomerStore, history: HistoryStore, customer_id: str) -> StatusDetail:
    customer = get_customer(store, customer_id)
    return StatusDetail(customer=customer, history=history.list_latest(customer_id, limit=HISTORY_LENGTH))


def _cursor(token: str, flt: CustomerFilter, keys: TokenKey) -> Cursor:
    key = keys.to_check()
    if key is not None and not continuation.is_signed_with(token, key):
        # Another instance may have made the key everybody agrees on after this one read its own.
        key = keys.to_check(again=True)
    if key is None:
        raise invalid_continuation_token()  # no key was ever made: no token was ever issued
    return continuation.decode(token, flt, key)
