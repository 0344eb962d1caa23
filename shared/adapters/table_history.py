"""HistoryStore on Azure Table Storage: the VerificationHistory table and its entities.

One partition per customer (PartitionKey = customerId); RowKey = inverted time of the result plus a random suffix,
so the newest sorts first.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from itertools import islice
from typing import Any

from azure.data.tables import TableClient, TableServiceClient

from ..domain.models import AuthMethod, VerificationResult
from .table_columns import int_or_none, newest_first_key, plain_datetime, reason_of, status_of, utc, without_none
from .table_common import MAX_ROUND_TRIPS, TableAccess, check_page_size, delete_partition, storage_call


class TableHistoryStore:
    """Implements ports.HistoryStore. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "VerificationHistory") -> None:
        self._name = table
        self._on_table = TableAccess(service, table)

    def append(self, result: VerificationResult) -> None:
        with storage_call("record a verification result"):
            self._on_table(lambda table: table.create_entity(result_to_entity(result)))

    def list_latest(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
        check_page_size(limit, "limit")
        with storage_call("read verification history"):
            found = self._on_table(lambda table: _first_rows(table, customer_id, limit))
        return [result_from_entity(entity) for entity in found[:limit]]

    def delete_all(self, customer_id: str) -> None:
        with storage_call("delete verification history"):
            self._on_table(lambda table: delete_partition(table, customer_id))


def _first_rows(table: TableClient, customer_id: str, limit: int) -> list[Any]:
    found: list[Any] = []
    pages = table.query_entities(
        "PartitionKey eq @pk", parameters={"pk": customer_id}, results_per_page=limit
    ).by_page()
    for page in islice(pages, MAX_ROUND_TRIPS):
        found.extend(page)
        if len(found) >= limit:
            break
    return found


def result_to_entity(result: VerificationResult) -> dict[str, Any]:
    return without_none(
        {
            "PartitionKey": result.customer_id,
            "RowKey": _row_key(result.verified_at),
            "status": result.status.value,
            "verifiedAt": utc(result.verified_at),
            "method": result.method.value,
            "reason": result.reason.value if result.reason else None,
            "message": result.message,
            "aadstsCode": result.aadsts_code,
            "hint": result.hint,
        }
    )


def result_from_entity(entity: Any) -> VerificationResult:
    verified_at = plain_datetime(entity.get("verifiedAt"))
    if verified_at is None:
        raise ValueError("A verification history row has no verifiedAt.")
    return VerificationResult(
        customer_id=entity["PartitionKey"],
        status=status_of(entity.get("status")),
        verified_at=verified_at,
        method=AuthMethod(entity["method"]),
        reason=reason_of(entity.get("reason")),
        message=entity.get("message"),
        aadsts_code=int_or_none(entity.get("aadstsCode")),
        hint=entity.get("hint"),
    )


def _row_key(verified_at: datetime) -> str:
    # The suffix keeps two results of the same microsecond apart.
    return f"{newest_first_key(verified_at)}-{uuid.uuid4().hex[:8]}"
