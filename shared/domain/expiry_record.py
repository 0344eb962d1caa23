"""What a customer's record keeps of foresight (`Foresight`), and the outlook it gives (`record_outlook`).

Verification learns the parts (what Graph said of the customer's app secret, the provider's secret as the settings
had it, the last redemption of the refresh token, the delegated admin relationship); the operator gives dates
(`applicationSecretExpiresAt`, on the record itself). The outlook is worked out from both whenever the record is
written, so the `expiresAt` column a filter reads and the view always agree. A part not learnt yet is unknown
(`notReadYet`), never "no expiry".

Which date wins for the customer's own client secret: Graph's when a read matched the stored secret (Graph is what
Microsoft enforces), else the operator's, else the unknown with its reason.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from .expiry import (
    Expiry,
    ExpiryKind,
    ExpirySource,
    ExpiryUnknown,
    Outlook,
    Part,
    UnknownReason,
    outlook,
    refresh_token_expiry,
)
from .expiry_reads import KeptRead
from .models import AuthMethod, Customer, ProviderSettings
from .secrets import SecretKind


@dataclass(frozen=True, slots=True)
class Foresight:
    """What verification learnt of a customer's expiries (kept on its record; no secret, no token)."""

    client_secret: Part = None  # from Graph: the stored secret's expiry, None (it never expires), or why unknown
    client_secret_read: KeptRead | None = None  # when Graph was last asked, under which key (None: never)
    via_provider: bool = False  # the provider's app claims this customer's tokens (then its secret counts)
    provider_secret: Part = None  # the provider's client secret's expiry, as known at the last verification
    provider_checked: bool = False  # False: no verification has looked at the provider's secret yet
    refresh_token_redeemed_at: datetime | None = None  # the last redemption of the refresh token
    gdap: Part = None  # the delegated admin relationship's end (GDAP_CHECK), or why unknown
    gdap_reason: str | None = None  # GdapReason of the finding that dates `gdap`
    warned: Mapping[str, int | None] = field(default_factory=dict)  # credential identity -> band warned


NOT_VERIFIED_YET = "Not known until the customer is verified."


def operator_or_graph(
    graph: Part, read: KeptRead | None, *, what: ExpiryKind, operator_at: datetime | None, credential_id: str,
) -> Part:
    """A client secret's expiry: Graph's when a read matched (None: Graph says it never expires), else the
    operator's date, else why it is unknown."""
    if read is not None and (graph is None or isinstance(graph, Expiry)):
        return graph
    if operator_at is not None:
        return Expiry(what, ExpirySource.OPERATOR, operator_at, credential_id)
    if isinstance(graph, ExpiryUnknown):
        return graph
    return ExpiryUnknown(what, UnknownReason.NOT_READ_YET,
                         "Not read from Microsoft Graph yet, and no expiry date was given with the secret.")


def record_parts(customer: Customer) -> list[Part]:
    """The parts this customer's connection depends on, as its record knows them."""
    kept = customer.foresight or Foresight()
    method = customer.authentication_method
    parts: list[Part] = []
    if method is AuthMethod.APPLICATION and not kept.via_provider:
        version = customer.secret_versions.get(SecretKind.APPLICATION_SECRET, "")
        parts.append(operator_or_graph(kept.client_secret, kept.client_secret_read, what=ExpiryKind.CLIENT_SECRET,
                                       operator_at=customer.application_secret_expires_at, credential_id=version))
    elif kept.provider_checked:
        parts.append(kept.provider_secret)
    else:
        parts.append(ExpiryUnknown(ExpiryKind.PROVIDER_CLIENT_SECRET, UnknownReason.NOT_READ_YET, NOT_VERIFIED_YET))
    if method is AuthMethod.TOKEN:
        parts.append(refresh_token_expiry(kept.refresh_token_redeemed_at,
                                          credential_id=customer.secret_versions.get(SecretKind.REFRESH_TOKEN, "")))
    parts.append(kept.gdap)
    return parts


def record_outlook(customer: Customer) -> Outlook:
    """The customer's time to failure as its record knows it."""
    return outlook(record_parts(customer))



PROVIDER_SECRET_NOT_READ = ("Not read from Microsoft Graph: PROVIDER_TENANT_ID (the provider's own tenant) is not set. "
                            "Set it, or give clientSecretExpiresAt in the settings.")
GDAP_NOT_READ = ("GDAP_CHECK is on, but PROVIDER_TENANT_ID (the provider's own tenant, where the relationships are "
                 "read) is not set.")


def provider_secret_part(settings: ProviderSettings | None, *, graph_reads: bool = True) -> Part:
    """The provider's client secret's expiry as its settings know it; None when no secret is configured.
    `graph_reads` False (PROVIDER_TENANT_ID is empty): never read from Graph, so only the operator's date is known,
    or why none is."""
    if settings is None or not settings.client_secret_configured:
        return None
    if not graph_reads:
        if settings.client_secret_expires_at is None:
            return ExpiryUnknown(ExpiryKind.PROVIDER_CLIENT_SECRET, UnknownReason.PROVIDER_TENANT_NOT_SET,
                                 PROVIDER_SECRET_NOT_READ)
        return Expiry(ExpiryKind.PROVIDER_CLIENT_SECRET, ExpirySource.OPERATOR, settings.client_secret_expires_at,
                      settings.client_secret_version or "")
    return operator_or_graph(settings.client_secret_graph, settings.client_secret_read,
                             what=ExpiryKind.PROVIDER_CLIENT_SECRET, operator_at=settings.client_secret_expires_at,
                             credential_id=settings.client_secret_version or "")


def kept_through_edit(existing: Customer | None, customer: Customer) -> Foresight | None:
    """What an edit (PUT /api/tenants) keeps of the record's Foresight: nothing learnt about a sign-in that changed
    (another method, tenant or app), and nothing Graph said of a secret that was replaced; the bands warned stay
    (they are keyed by credential, so a new one warns afresh)."""
    kept = existing.foresight if existing is not None else None
    if existing is None or kept is None:
        return None
    if (customer.authentication_method, customer.tenant_id, customer.application_id) != (
            existing.authentication_method, existing.tenant_id, existing.application_id):
        return Foresight(warned=kept.warned)
    if customer.secret_versions.get(SecretKind.APPLICATION_SECRET) != existing.secret_versions.get(
            SecretKind.APPLICATION_SECRET):
        return replace(kept, client_secret=None, client_secret_read=None)
    return kept
