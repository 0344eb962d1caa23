"""In-memory fakes of the sign-in and audit ports (AuditLog, FunctionKeyCheck), for unit tests."""
from __future__ import annotations

from datetime import datetime

from shared.domain.audit import AuditListing, AuditRecord
from shared.domain.errors import invalid_continuation_token

# The one function key the fake host takes.
GOOD_KEY = "good-function-key-for-tests"


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def append(self, record: AuditRecord) -> None:
        if not any(r.request_id == record.request_id and r.at == record.at for r in self.records):
            self.records.append(record)

    def list_records(self, *, customer_id: str | None, actor_id: str | None, top: int,
                     cursor: str | None) -> AuditListing:
        chosen = [r for r in sorted(self.records, key=lambda r: r.at, reverse=True)
                  if (customer_id is None or r.customer_id == customer_id)
                  and (actor_id is None or r.actor.id == actor_id)]
        if cursor is not None and not cursor.isdigit():
            raise invalid_continuation_token()
        start = int(cursor or 0)
        end = start + top
        return AuditListing(chosen[start:end], str(end) if end < len(chosen) else None)

    def delete_older_than(self, moment: datetime) -> int:
        kept = [r for r in self.records if r.at >= moment]
        gone = len(self.records) - len(kept)
        self.records = kept
        return gone


class FakeFunctionKeys:
    """The host's answer to a key: GOOD_KEY is one of its keys; every key asked is kept in `asked`."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def is_valid(self, key: str) -> bool:
        self.asked.append(key)
        return key == GOOD_KEY
