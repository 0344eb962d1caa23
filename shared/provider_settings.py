"""Use cases of the provider's own consent settings (Client Id, Redirect URL, Client Secret)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .models import ProviderSecret, ProviderSettings
from .ports import SecretStore, SettingsStore
from .validation import SettingsInput
from .views import iso


def settings_view(settings: ProviderSettings | None) -> dict[str, Any]:
    settings = settings or ProviderSettings()
    return {
        "clientId": settings.client_id,
        "redirectUrl": settings.redirect_url,
        "clientSecretConfigured": settings.client_secret_configured,
        "updatedAt": iso(settings.updated_at),
    }


def get_settings(store: SettingsStore) -> ProviderSettings:
    return store.get() or ProviderSettings()


def put_settings(
    store: SettingsStore, secrets: SecretStore, data: SettingsInput, *, now: datetime | None = None
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
