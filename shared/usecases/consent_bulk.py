"""Bulk consent links (POST /api/consent): one Grant Consent link (method `token`) per customer named, or for every
`password` customer, so an operator can mail them and move customers off the method Microsoft is retiring.

Bounded: at most MAX_BULK customers a request (a link costs a state and a record write each). What is wrong for every
customer (the provider's settings) fails the request; what is wrong for one (unknown, an unresolvable domain) is
answered beside the links, per customer.
"""
from __future__ import annotations

from datetime import datetime

from ..domain.errors import AppError, Conflict, InputError
from ..domain.expiry_consent import BulkLink
from ..domain.models import AuthMethod, CustomerFilter
from .consent import ConsentContext, start_consent

MAX_BULK = 200
# Conflicts about the provider's settings: every link would fail the same way.
_SETTINGS_CODES = frozenset({"clientIdNotConfigured", "clientSecretNotConfigured", "redirectUrlNotConfigured"})


def password_customer_ids(ctx: ConsentContext) -> list[str]:
    """Every `password` customer, in customerId order; InputError when there are more than MAX_BULK."""
    ids: list[str] = []
    cursor = None
    while True:
        listing = ctx.verification.customers.list(CustomerFilter(method=AuthMethod.PASSWORD), top=MAX_BULK + 1,
                                                  after=cursor)
        ids.extend(customer.customer_id for customer in listing.customers)
        if len(ids) > MAX_BULK:
            raise InputError("tooManyCustomers", f"There are more than {MAX_BULK} password customers: ask for "
                             f"their links by customerIds, at most {MAX_BULK} at a time.",
                             target="allPasswordCustomers")
        if listing.next is None:
            return ids
        cursor = listing.next


def bulk_links(ctx: ConsentContext, customer_ids: list[str], *, now: datetime | None = None) -> list[BulkLink]:
    """A token consent link for each customer (its M365 email as the login hint), in the order given."""
    answered = []
    for customer_id in customer_ids:
        customer = ctx.verification.customers.get(customer_id)
        if customer is None:
            answered.append(BulkLink(customer_id, error_code="notFound",
                                     error_message=f"No customer with customerId {customer_id}."))
            continue
        try:
            link = start_consent(ctx, customer_id, method=AuthMethod.TOKEN, login_hint=customer.m365_email, now=now)
        except Conflict as err:
            if err.code in _SETTINGS_CODES:
                raise
            answered.append(BulkLink(customer_id, customer.tenant_id, customer.m365_email, error_code=err.code,
                                     error_message=err.message))
        except AppError as err:
            if isinstance(err, InputError):
                raise
            answered.append(BulkLink(customer_id, customer.tenant_id, customer.m365_email, error_code=err.code,
                                     error_message=err.message))
        else:
            answered.append(BulkLink(customer_id, customer.tenant_id, customer.m365_email, link))
    return answered
