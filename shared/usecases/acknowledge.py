"""Acknowledging a customer's failure: no reminders about it until its state changes (README, "Alerts")."""
from __future__ import annotations

from datetime import UTC, datetime

from ..domain.alerts.events import StatusPoint
from ..domain.alerts.reminders import Acknowledgement
from ..domain.errors import Conflict, NotFound
from ..domain.models import Status
from ..domain.ports import AlertFollower, CustomerStore


def acknowledge_failure(customers: CustomerStore, follower: AlertFollower, customer_id: str, *,
                        now: datetime | None = None) -> Acknowledgement:
    """Acknowledge the failure the customer's record shows now: its status and reason, as of `now`. It covers that
    failure only: a new reason, or a failure after a success, is reminded about again."""
    customer = customers.get(customer_id)
    if customer is None:
        raise NotFound(f"No customer with customerId {customer_id}.")
    if customer.last_verification_status is not Status.FAILED:
        raise Conflict("notFailing", f"Customer {customer_id} is not failing; only a failure can be acknowledged.")
    acknowledgement = Acknowledgement(at=now or datetime.now(UTC),
                                      state=StatusPoint(Status.FAILED, customer.last_verification_reason))
    follower.acknowledge(customer_id, acknowledgement)
    return acknowledgement
