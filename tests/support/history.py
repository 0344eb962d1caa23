"""Results put into a customer's history through the real write path (CustomerStore.replace with a result), for
tests of the adapters over Azurite that need a history to read."""
from __future__ import annotations

import dataclasses

from shared.domain.models import Customer
from shared.domain.ports import CustomerStore
from shared.domain.verification import VerificationResult


def into_history(store: CustomerStore, result: VerificationResult) -> Customer:
    """`result` into its customer's history, the record otherwise unchanged (its status stays what it is)."""
    current = store.get(result.customer_id)
    assert current is not None, f"no customer {result.customer_id!r} to record a result for"
    counted = dataclasses.replace(current, results_recorded=current.results_recorded + 1)
    return store.replace(current, counted, result=result)
