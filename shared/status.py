"""Read side of verification status: the list with its summary, and one customer with history."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import InputError
from .models import Status, TenantFilter
from .ports import TenantStore
from .tenants import get_tenant
from .validation import ListQuery
from .views import history_view, iso, summary_view, tenant_view

HISTORY_LENGTH = 20
# The summary counts every tenant, which costs a read of every tenant's status. A walk through the pages
# reuses the counts taken for its first page (carried in the continuation token) while they are this fresh,
# so walking N pages costs one count, not N; an older token gets a fresh count.
SUMMARY_REUSE = timedelta(seconds=60)
_TOKEN_PREFIX = "s1."
_MAX_TOKEN_CHARS = 4096


def list_status(store: TenantStore, query: ListQuery, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    inner, counts, counted_at = None, None, now
    if query.continuation_token is not None:
        inner, snapshot, snapshot_at = _decode(query.continuation_token)
        if now - snapshot_at <= SUMMARY_REUSE and snapshot_at <= now:
            counts, counted_at = snapshot, snapshot_at
    if counts is None:
        counts = store.count_by_status()
    page = store.list(TenantFilter(status=query.status, method=query.method), top=query.top, continuation_token=inner)
    return {
        "generatedAt": iso(now),
        "summary": summary_view(counts),
        "tenants": [tenant_view(t) for t in page.tenants],
        "continuationToken": _encode(page.continuation_token, counts, counted_at) if page.continuation_token else None,
    }


def status_detail(store: TenantStore, customer_id: str) -> dict[str, Any]:
    tenant = get_tenant(store, customer_id)
    view = tenant_view(tenant)
    view["history"] = [history_view(r) for r in store.latest_results(customer_id, limit=HISTORY_LENGTH)]
    return view


def _encode(inner: str, counts: dict[Status, int], counted_at: datetime) -> str:
    payload = {"t": inner, "c": {s.value: counts.get(s, 0) for s in Status}, "at": int(counted_at.timestamp())}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> tuple[str, dict[Status, int], datetime]:
    invalid = InputError(
        "invalidContinuationToken",
        "continuationToken is not one this API returned; start again without it.",
    )
    if len(token) > _MAX_TOKEN_CHARS or not token.startswith(_TOKEN_PREFIX):
        raise invalid
    body = token[len(_TOKEN_PREFIX):]
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        inner, raw_counts, at = payload["t"], payload["c"], payload["at"]
        counts = {Status(name): value for name, value in raw_counts.items()}
        valid = (
            isinstance(inner, str) and inner
            and set(counts) == set(Status)
            and all(type(v) is int and v >= 0 for v in counts.values())
            and type(at) is int
        )
        counted_at = datetime.fromtimestamp(at, UTC) if valid else None
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError):
        raise invalid from None
    if counted_at is None:
        raise invalid
    return inner, counts, counted_at
