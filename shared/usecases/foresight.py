"""Foresight during verification: what a verification learns of a customer's expiries (`Foresight`), with the
Microsoft Graph reads it needs, each at most once a day (shared/domain/expiry_reads.py).

- `application` customers with their own app: the app's client secret, read with the token verification just
  claimed (its roles must hold Application.Read.All); cached on the record under a key naming the secret's version.
- Customers of the provider's app: the provider's client secret, read in the provider's tenant (PROVIDER_TENANT_ID)
  with the provider's app; one read for every customer, cached in this process and kept in the settings (so the
  status summary shows it); without a tenant, the operator's clientSecretExpiresAt.
- `token` customers: a successful redemption now is the refresh token's last use (90 days of inactivity).
- GDAP_CHECK: the provider's delegated admin relationships, one listing for every customer, cached in this process.
A failed read is kept as unknown with its reason, never as "no expiry"; throttled or unreachable is tried again after
TRANSIENT_RETRY. Consent drift (`scp` against CONSENT_SCOPES) is judged here too.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..domain.classification import Failure
from ..domain.errors import Conflict, DependencyUnavailable
from ..domain.expiry import Expiry, ExpiryKind, ExpiryUnknown, Part, UnknownReason
from ..domain.expiry_consent import consent_drift
from ..domain.expiry_credentials import AppCredentials, client_secret_expiry, secret_hint
from ..domain.expiry_events import ExpiringWarning, with_warnings
from ..domain.expiry_gdap import DelegatedAdminRelationship, gdap_outlook
from ..domain.expiry_reads import (
    KeptRead,
    ReadUnknown,
    application_read_key,
    needs_read,
    provider_read_key,
    relationships_read_key,
)
from ..domain.expiry_record import GDAP_NOT_READ, Foresight, provider_secret_part
from ..domain.models import AuthMethod, Customer, ProviderSettings
from ..domain.ports import GraphReader, IdentityPlatform, ProviderSettingsStore
from ..domain.secrets import SecretKind
from ..domain.verification import AppCredential, TokenAnswer

logger = logging.getLogger(__name__)

Relationships = tuple[DelegatedAdminRelationship, ...] | ReadUnknown


@dataclass(frozen=True, slots=True)
class Seen:
    """What one verification saw that foresight needs (never logged: it holds a token)."""

    answer: TokenAnswer | None = dataclasses.field(default=None, repr=False)
    hint: str | None = dataclasses.field(default=None, repr=False)  # the stored app secret's first characters
    provider: AppCredential | None = dataclasses.field(default=None, repr=False)  # when the provider's app signed in
    settings: ProviderSettings | None = None  # the settings as read for this verification, when they were
    provider_app: AppCredential | None = dataclasses.field(default=None, repr=False)  # for the GDAP listing


class ForesightReads:
    """The Graph reads of foresight and the reads kept in this process (the provider's, the GDAP listing)."""

    def __init__(self, *, graph: GraphReader, platform: IdentityPlatform, consent_scopes: tuple[str, ...],
                 provider_tenant_id: str | None, gdap_check: bool) -> None:
        self._graph = graph
        self._platform = platform
        self.consent_scopes = consent_scopes
        self._provider_tenant = provider_tenant_id
        self.gdap_check = gdap_check and bool(provider_tenant_id)  # the listing is read in the provider's tenant
        self._gdap_without_tenant = gdap_check and not provider_tenant_id  # asked for, but cannot be read
        self._lock = threading.Lock()  # one reader at a time for the shared reads: one request, not one per thread
        self._provider_read: tuple[KeptRead, Part] | None = None
        self._gdap_read: tuple[KeptRead, Relationships] | None = None

    def __repr__(self) -> str:
        return f"ForesightReads(provider_tenant_id={self._provider_tenant!r}, gdap_check={self.gdap_check})"

    def drift(self, answer: TokenAnswer) -> Failure | None:
        """A token customer's consent drift: scopes of CONSENT_SCOPES its access token's `scp` lacks."""
        claims: dict[str, Any] = dict(answer.claims or {})
        return consent_drift(self.consent_scopes, scp=claims.get("scp"), audience=claims.get("aud"))

    def learn(self, customer: Customer, seen: Seen, *, force: bool, deadline: float,
              settings_store: ProviderSettingsStore, now: datetime | None = None) -> Foresight:
        """The record's Foresight after this verification (its warned bands are the writer's: expiry_events)."""
        now = now or datetime.now(UTC)
        kept = customer.foresight or Foresight()
        learnt = dataclasses.replace(kept, via_provider=seen.provider is not None)
        if seen.provider is not None:
            part = self._provider_part(seen.provider, seen.settings, settings_store, now=now, deadline=deadline)
            learnt = dataclasses.replace(learnt, provider_secret=part, provider_checked=True)
        elif customer.authentication_method is AuthMethod.APPLICATION:
            learnt = self._application(customer, learnt, seen, force=force, now=now, deadline=deadline)
        if customer.authentication_method is AuthMethod.TOKEN and seen.answer is not None and seen.answer.ok:
            learnt = dataclasses.replace(learnt, refresh_token_redeemed_at=now)
        if self.gdap_check:
            listing = self._relationships(seen.provider or seen.provider_app, now=now, deadline=deadline)
            gdap = gdap_outlook(listing, customer.tenant_id)
            dated = [item.reason.value for item in gdap.findings
                     if isinstance(gdap.expiry, Expiry) and gdap.expiry.credential_id == item.relationship_id]
            learnt = dataclasses.replace(learnt, gdap=gdap.expiry, gdap_reason=dated[0] if dated else None)
        elif self._gdap_without_tenant:
            learnt = dataclasses.replace(learnt, gdap_reason=None, gdap=ExpiryUnknown(
                ExpiryKind.GDAP_RELATIONSHIP, UnknownReason.PROVIDER_TENANT_NOT_SET, GDAP_NOT_READ))
        return learnt

    def _application(self, customer: Customer, learnt: Foresight, seen: Seen, *, force: bool, now: datetime,
                     deadline: float) -> Foresight:
        version = customer.secret_versions.get(SecretKind.APPLICATION_SECRET, "")
        key = application_read_key(customer.tenant_id, customer.application_id or "", version)
        token = seen.answer.access_token if seen.answer is not None and seen.answer.ok else None
        if token is None or not needs_read(learnt.client_secret_read, key, now=now, force=force):
            return learnt  # no token to read with (the sign-in failed), or what is kept is fresh
        read = self._graph.application_credentials(access_token=token, application_id=customer.application_id or "",
                                                   deadline=deadline)
        part = client_secret_expiry(read, what=ExpiryKind.CLIENT_SECRET, hint=seen.hint, now=now,
                                    credential_id=version)
        failed = read.reason if isinstance(read, ReadUnknown) else None
        return dataclasses.replace(learnt, client_secret=part, client_secret_read=KeptRead(key, now, failed))

    def _provider_part(self, credential: AppCredential, settings: ProviderSettings | None,
                       store: ProviderSettingsStore, *, now: datetime, deadline: float) -> Part:
        """The provider's client secret's expiry: Graph's (read once a day for every customer), else the
        operator's date, else why it is unknown."""
        if settings is None or self._provider_tenant is None:
            return provider_secret_part(settings, graph_reads=self._provider_tenant is not None)
        key = provider_read_key(credential.client_id, settings.client_secret_version or "")
        with self._lock:
            kept = self._provider_read
            if kept is None and settings.client_secret_read is not None:
                kept = (settings.client_secret_read, settings.client_secret_graph)
            if needs_read(kept[0] if kept else None, key, now=now):
                kept = self._read_provider(credential, key, now=now, deadline=deadline)
                _keep_in_settings(store, settings, kept)
            self._provider_read = kept
        read, graph = kept
        return provider_secret_part(dataclasses.replace(settings, client_secret_read=read, client_secret_graph=graph))

    def _read_provider(self, credential: AppCredential, key: str, *, now: datetime,
                       deadline: float) -> tuple[KeptRead, Part]:
        token = self._provider_token(credential, deadline)
        read: AppCredentials | ReadUnknown = token if isinstance(token, ReadUnknown) else \
            self._graph.application_credentials(access_token=token, application_id=credential.client_id,
                                                deadline=deadline)
        part = client_secret_expiry(read, what=ExpiryKind.PROVIDER_CLIENT_SECRET, hint=secret_hint(credential.secret),
                                    now=now, credential_id=key.rpartition("|")[2])
        return KeptRead(key, now, read.reason if isinstance(read, ReadUnknown) else None), part

    def _relationships(self, credential: AppCredential | None, *, now: datetime, deadline: float) -> Relationships:
        key = relationships_read_key(self._provider_tenant or "")
        with self._lock:
            kept = self._gdap_read
            if credential is not None and needs_read(kept[0] if kept else None, key, now=now):
                token = self._provider_token(credential, deadline)
                listing = token if isinstance(token, ReadUnknown) else \
                    self._graph.delegated_admin_relationships(access_token=token, deadline=deadline)
                kept = (KeptRead(key, now, listing.reason if isinstance(listing, ReadUnknown) else None), listing)
                self._gdap_read = kept
        if kept is None:
            return ReadUnknown(UnknownReason.NOT_READ_YET, "The delegated admin relationships are read with the "
                                                           "provider's app, which is not configured.")
        return kept[1]

    def _provider_token(self, credential: AppCredential, deadline: float) -> str | ReadUnknown:
        answer = self._platform.with_client_credentials(tenant=self._provider_tenant or "", app=credential,
                                                        deadline=deadline)
        if answer.ok and answer.access_token:
            return answer.access_token
        why = answer.error or answer.transport or "no token"
        return ReadUnknown(UnknownReason.TOKEN_REJECTED, "The provider's app could not sign in to its own tenant to "
                                                         f"read Microsoft Graph ({why}).")


def _keep_in_settings(store: ProviderSettingsStore, settings: ProviderSettings, kept: tuple[KeptRead, Part]) -> None:
    """Keep the provider's read in the settings, for the status summary; another writer's change wins."""
    if settings.etag is None:
        return
    try:
        store.replace(settings, dataclasses.replace(settings, client_secret_read=kept[0], client_secret_graph=kept[1]))
    except (Conflict, DependencyUnavailable) as err:
        logger.info("The provider's client secret read is kept in memory only (%s).", type(err).__name__)


def with_foresight(current: Customer, updated: Customer, learnt: Foresight | None, *, now: datetime,
                   run_id: str | None) -> tuple[Customer, list[ExpiringWarning]]:
    """`updated` (a result written over `current`, the record as stored) with what the verification learnt and the
    warning bands brought up to `now`; the connectionExpiring warnings to write with it."""
    if learnt is not None:
        warned = (current.foresight or Foresight()).warned
        updated = dataclasses.replace(updated, foresight=dataclasses.replace(learnt, warned=warned))
    return with_warnings(updated, now=now, run_id=run_id, new_id=lambda: uuid.uuid4().hex)
