"""Each customer's verification history in the Tenants table: its rows' keys and columns.

A customer's history is a ring of HISTORY_KEPT rows beside its record in the customers' partition, RowKey
"~history-<customerId>~NN" (after the count shards, before the outbox: no listing, count or recount reads them).
A result goes into slot (resultsRecorded - 1) mod HISTORY_KEPT, in the same entity-group transaction as the record
that counts it (table_customers.py, which also reads them: TableCustomerStore is the HistoryStore). So a result
costs one more operation in a transaction already sent rather than a request of its own, the record and its history
never disagree, and the history stays bounded without a row ever deleted. "~" is no customerId character, so one
customer's slots are a key range in which no other customer's fall.
"""
from __future__ import annotations

from typing import Any

from ..domain.models import AuthMethod
from ..domain.rules import HISTORY_KEPT
from ..domain.verification import VerificationResult
from .table_columns import int_or_none, plain_datetime, reason_of, status_of, utc, without_none

HISTORY_PREFIX = "~history-"


def slots_of(customer_id: str) -> tuple[str, str]:
    """The RowKey range (exclusive at both ends) of a customer's history rows."""
    start = f"{HISTORY_PREFIX}{customer_id}~"
    return start, start + "~"


def history_key(customer_id: str, results_recorded: int) -> str:
    """The RowKey of the slot the `results_recorded`-th result of a customer goes into (counted from 1)."""
    if results_recorded < 1:
        raise ValueError("A result goes into the history of the record that counts it.")
    return f"{slots_of(customer_id)[0]}{(results_recorded - 1) % HISTORY_KEPT:02d}"


def result_to_entity(result: VerificationResult) -> dict[str, Any]:
    """A result's columns (its keys: history_key)."""
    return without_none(
        {
            "customerId": result.customer_id,
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
        customer_id=entity["customerId"],
        status=status_of(entity.get("status")),
        verified_at=verified_at,
        method=AuthMethod(entity["method"]),
        reason=reason_of(entity.get("reason")),
        message=entity.get("message"),
        aadsts_code=int_or_none(entity.get("aadstsCode")),
        hint=entity.get("hint"),
    )
