"""Use cases of the provider's own consent settings (Client Id, Redirect URL, Client Secret)."""
from __future__ import annotations

from datetime import UTC, datetime

from ..domain.inputs import ProviderSettingsInput
from ..domain.models import ProviderSecret, ProviderSettings
from ..domain.ports import ProviderSettingsStore, SecretStore


def get_settings(store: ProviderSettingsStore) -> ProviderSettings:
    return store.get() or ProviderSettings()


def put_settings(
    store: ProviderSettingsStore, secrets: SecretStore, data: ProviderSettingsInput, *, now: datetime | None = None
) -> ProviderSettings:
    """Apply Changes. Without a clientSecret the stored one is kept; the secret goes to the SecretStore only."""
    existing = store.get()
    configured = existing.client_secret_configured if existing else False
    if data.client_secret is not None:
        secrets.set(None, ProviderSecret.CLIENT_SECRET, data.client_secret)
        configured = True
    return store.save(ProviderSettings(
        client_id=data.client_id,
        redirect_url=data.redirect_url,
        client_secret_configured=configured,
        updated_at=now or datetime.now(UTC),
        etag=existing.etag if existing else None,
    ))
