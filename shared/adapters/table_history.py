"""HistoryStore on Azure Table Storage: the VerificationHistory table, one partition per customer."""
from __future__ import annotations

from itertools import islice
from typing import Any

from azure.data.tables import TableClient, TableServiceClient

from ..domain.models import VerificationResult
from .table_common import MAX_ROUND_TRIPS, TableAccess, check_page_size, delete_partition, storage_call
from .table_entities import result_from_entity, result_to_entity


class TableHistoryStore:
    """Implements ports.HistoryStore. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "VerificationHistory") -> None:
        self._name = table
        self._on_table = TableAccess(service, table)

    def append(self, result: VerificationResult) -> None:
        with storage_call("record a verification result"):
            self._on_table(lambda table: table.create_entity(result_to_entity(result)))

    def latest(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
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
