"""Deleting a customer while something else writes its record: a verification result is no conflict, an edit is."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from shared.domain.errors import Conflict
from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.domain.verification import VerificationResult
from shared.usecases.customers import delete_customer, put_customer


def _password(value: str) -> CustomerInput:
    return CustomerInput(tenant_id="contoso.com", authentication_method=AuthMethod.PASSWORD,
                         m365_email="admin@contoso.com", password=value)


def _meanwhile(services, change) -> None:
    """`change` (the record as stored -> what another writer stores) happens once, between the delete's read of the
    record and its write."""
    store, delete = services.customers, services.customers.delete

    def delete_after(customer):
        store.delete = delete
        current = store.customers[customer.customer_id]
        store.replace(current, change(current))
        return delete(customer)

    store.delete = delete_after


def test_a_result_recorded_between_the_read_and_the_delete_does_not_stop_it(services):
    put_customer(services.customers, services.secrets, "c1", _password("one"))
    result = VerificationResult("c1", Status.FAILED, datetime.now(UTC), AuthMethod.PASSWORD,
                                reason=Reason.MFA_REQUIRED)
    _meanwhile(services, lambda current: current.with_result(result))
    delete_customer(services.customers, services.history, services.secrets, "c1")
    assert services.customers.get("c1") is None
    assert services.secrets.stored.get(("c1", "password")) in (None, {})  # its versions retired with it


def test_an_edit_between_the_read_and_the_delete_is_a_conflict_and_nothing_is_deleted(services):
    put_customer(services.customers, services.secrets, "c1", _password("one"))
    _meanwhile(services, lambda current: dataclasses.replace(current, m365_email="other@contoso.com",
                                                               updated_at=datetime.now(UTC)))
    with pytest.raises(Conflict) as error:
        delete_customer(services.customers, services.history, services.secrets, "c1")
    assert error.value.code == "modifiedConcurrently"
    assert services.customers.get("c1").m365_email == "other@contoso.com"
