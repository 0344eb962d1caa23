"""Read side of verification status: the list with its summary, and one customer with history."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .models import TenantFilter
from .ports import TenantStore
from .tenants import get_tenant
from .validation import ListQuery
from .views import history_view, iso, summary_view, tenant_view

HISTORY_LENGTH = 20


def list_status(store: TenantStore, query: ListQuery, *, now: datetime | None = None) -> dict[str, Any]:
    page = store.list(
        TenantFilter(status=query.status, method=query.method),
        top=query.top,
        continuation_token=query.continuation_token,
    )
    return {
        "generatedAt": iso(now or datetime.now(UTC)),
        "summary": summary_view(store.count_by_status()),
        "tenants": [tenant_view(t) for t in page.tenants],
        "continuationToken": page.continuation_token,
    }


def status_detail(store: TenantStore, customer_id: str) -> dict[str, Any]:
    tenant = get_tenant(store, customer_id)
    view = tenant_view(tenant)
    view["history"] = [history_view(r) for r in store.latest_results(customer_id, limit=HISTORY_LENGTH)]
    return view
