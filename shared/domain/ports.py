"""The ports the use cases depend on; shared/adapters implement them, unit tests pass fakes."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from .models import (
    Cursor,
    ProviderSecret,
    ProviderSettings,
    Status,
    Tenant,
    TenantFilter,
    TenantPage,
    VerificationResult,
)
from .secrets import SecretName, SecretVersion, StoredSecret


class TenantStore(Protocol):
    def get(self, customer_id: str) -> Tenant | None: ...

    def get_many(self, customer_ids: Sequence[str]) -> dict[str, Tenant]:
        """Those of `customer_ids` that exist, by customerId (one read for adjacent ids, as a run's chunk has)."""

    def add(self, tenant: Tenant) -> Tenant:
        """Insert a new tenant; raises errors.Conflict when the customerId exists."""

    def update(self, previous: Tenant, tenant: Tenant) -> Tenant:
        """Replace `previous`, as it was read (its etag must still match), with `tenant`; raises
        errors.Conflict otherwise."""

    def update_many(self, changes: Sequence[tuple[Tenant, Tenant]]) -> list[Tenant]:
        """Each (previous, tenant) as `update` does, all in one write: every one or none. Raises errors.Conflict
        (and writes nothing) when any previous changed since it was read. At most MAX_BATCH changes."""

    def delete(self, tenant: Tenant) -> None:
        """Remove a tenant read before (its etag must still match); raises errors.Conflict otherwise."""

    def list(self, flt: TenantFilter, *, top: int, after: Cursor | None) -> TenantPage:
        """One page in customerId order, from `after` (a cursor a page of this filter returned)."""

    def list_ids(self, *, top: int, after: Cursor | None) -> tuple[list[str], Cursor | None]:
        """`list` of every tenant, customerIds only; the cursor of the next page (None at the end)."""

    def count_by_status(self) -> dict[Status, int]:
        """Counts over every tenant (not a page), kept as tenants change: no scan."""

    def recount_by_status(self) -> dict[Status, int]:
        """Count every tenant again and correct the kept counts (a safety net; they are exact by design)."""


class HistoryStore(Protocol):
    """Every verification result of every customer."""

    def append(self, result: VerificationResult) -> None: ...

    def latest(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
        """Newest first."""

    def delete_all(self, customer_id: str) -> None:
        """Remove a customer's history; nothing to remove is not an error."""


class ProviderSettingsStore(Protocol):
    def get(self) -> ProviderSettings | None: ...

    def save(self, settings: ProviderSettings) -> ProviderSettings:
        """Insert, or replace the record read before (etag must match); raises errors.Conflict otherwise."""


class SecretStore(Protocol):
    """Versioned secrets. customer_id None addresses the provider's own secrets (ProviderSecret).

    Records name the version they use: a write adds a version and then moves the record's pointer under
    its ETag, so concurrent writers never make a record point at a secret it did not write.
    """

    def put(self, customer_id: str | None, name: SecretName | ProviderSecret, value: str) -> str:
        """Store the value as a new version and return its id; every other version stays as it was."""

    def get(self, customer_id: str | None, name: SecretName | ProviderSecret, version: str) -> str | None:
        """That version's value; None when it is missing or retired. CURRENT_VERSION reads the newest."""

    def retire(self, customer_id: str | None, name: SecretName | ProviderSecret, version: str) -> None:
        """Make one version unreadable for good (Key Vault disables it; it cannot delete one version).
        Idempotent."""

    def delete(self, customer_id: str | None, name: SecretName | ProviderSecret) -> None:
        """Remove the secret with every version. Idempotent."""

    def versions(self, customer_id: str | None, name: SecretName | ProviderSecret) -> tuple[SecretVersion, ...]:
        """The readable versions of one secret."""

    def inventory(self) -> Iterator[StoredSecret]:
        """Every secret of this app with its readable versions, for the sweep."""


# Alerts (issue 16) --------------------------------------------------------------------------------------------------
# Imported here, not at the top, so this section is appended whole while the rest of the file is being renamed.
from collections.abc import Mapping  # noqa: E402

from .alerts.channel_urls import ChannelUrl  # noqa: E402
from .alerts.delivery_retry import SendOutcome  # noqa: E402


class AlertTransport(Protocol):
    """Sends alert messages to the URLs of channels, by the outbound rules of shared.domain.alerts.channel_urls
    (https, no refused address, no redirect, short time-outs, a small answer read and never kept)."""

    def check_destination(self, url: str) -> ChannelUrl:
        """`url` taken apart if messages may go there now (its host resolved, every address allowed); raises
        FieldError (target `url`: invalidChannelUrl, channelUrlNotAllowed) otherwise."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        """POST one message; what came of it, as data (never raised, never the answer's body)."""


# Foresight (issue 17) -----------------------------------------------------------------------------------------------
# Imported here, not at the top, so this section is appended whole while the rest of the file is being renamed.
from .expiry_credentials import AppCredentials  # noqa: E402
from .expiry_gdap import DelegatedAdminRelationship  # noqa: E402
from .expiry_reads import ReadUnknown  # noqa: E402


class GraphReader(Protocol):
    """Reads what Microsoft Graph knows of expiries, with an access token the caller claimed; answers the data or
    why there is none (never raises for what Graph answered or for the network). 429 waits for its Retry-After
    and 5xx, resets and time-outs back off, within the retry policy and `deadline` (a time.monotonic() value)."""

    def application_credentials(
        self, *, access_token: str, application_id: str, deadline: float,
    ) -> AppCredentials | ReadUnknown:
        """`GET {GRAPH}/v1.0/applications(appId='{application_id}')?$select=passwordCredentials,keyCredentials` in
        the token's tenant (its roles must hold Application.Read.All)."""

    def delegated_admin_relationships(
        self, *, access_token: str, deadline: float,
    ) -> tuple[DelegatedAdminRelationship, ...] | ReadUnknown:
        """`GET {GRAPH}/v1.0/tenantRelationships/delegatedAdminRelationships`, every page, in the provider's tenant
        (DelegatedAdminRelationship.Read.All)."""
