"""ConsentStates on Azure Table Storage: the ConsentStates table, one row per link handed out, keyed by the
SHA-256 of its state. Claiming deletes the row under its ETag, so of two callbacks with one state one wins."""
from __future__ import annotations

from datetime import UTC, datetime

from azure.data.tables import TableClient, TableServiceClient, TableTransactionError

from ..domain.consent import ClaimedState
from .table_common import TableAccess, delete_rows, get_row, if_unchanged, storage_call

_PARTITION = "state"


class TableConsentStates:
    """Implements ports.ConsentStates."""

    def __init__(self, service: TableServiceClient, *, table: str = "ConsentStates") -> None:
        self._name = table
        self._on_table = TableAccess(service, table)

    def create(self, hashed: str, *, customer_id: str, expires_at: datetime) -> None:
        entity = {"PartitionKey": _PARTITION, "RowKey": hashed, "customerId": customer_id,
                  "expiresAt": expires_at.astimezone(UTC)}
        with storage_call("keep a consent state"):
            self._on_table(lambda table: table.create_entity(entity))

    def claim(self, hashed: str) -> ClaimedState | None:
        with storage_call("claim a consent state"):
            return self._on_table(lambda table: _claim(table, hashed))

    def delete_expired(self, *, expired_before: datetime) -> int:
        parameters = {"pk": _PARTITION, "before": expired_before.astimezone(UTC)}
        with storage_call("remove expired consent states"):
            return self._on_table(lambda table: delete_rows(table, "PartitionKey eq @pk and expiresAt lt @before",
                                                            parameters))


def _claim(table: TableClient, hashed: str) -> ClaimedState | None:
    row = get_row(table, _PARTITION, hashed)
    if row is None:
        return None
    guard = if_unchanged(row.metadata["etag"], mode=None)
    try:
        # In a transaction a delete that finds nothing fails (delete_entity alone would not say so).
        table.submit_transaction([("delete", {"PartitionKey": _PARTITION, "RowKey": hashed}, guard)])
    except TableTransactionError:
        return None  # another callback claimed it first
    expires = row["expiresAt"]
    return ClaimedState(customer_id=row["customerId"],
                        expires_at=datetime(*expires.timetuple()[:6], expires.microsecond, tzinfo=UTC))
