"""Use cases of the provider's own consent settings (Client Id, Redirect URL, Client Secret)."""
from __future__ import annotations

from datetime import UTC, datetime

from ..domain.inputs import ProviderSettingsInput
from ..domain.models import ProviderSettings
from ..domain.ports import ProviderSettingsStore, SecretStore
from ..domain.secrets import ProviderSecret
from .expiry_dates import kept_expiry
from .secret_writes import new_versions


def get_settings(store: ProviderSettingsStore) -> ProviderSettings:
    return store.get() or ProviderSettings()


def put_settings(
    store: ProviderSettingsStore, secrets: SecretStore, data: ProviderSettingsInput, *, now: datetime | None = None
) -> ProviderSettings:
    """Apply Changes. Without a clientSecret the stored one is kept; a new one becomes a new version that the
    record then points at (usecases/secret_writes.py), and the one it replaces is left to the sweep."""
    existing = store.get()
    with new_versions(secrets, None, {ProviderSecret.CLIENT_SECRET: data.client_secret}) as written:
        version = written.get(ProviderSecret.CLIENT_SECRET, existing.client_secret_version if existing else None)
        renewed = data.client_secret is not None
        settings = ProviderSettings(
            client_id=data.client_id, redirect_url=data.redirect_url, client_secret_version=version,
            updated_at=now or datetime.now(UTC),
            client_secret_expires_at=kept_expiry(existing.client_secret_expires_at if existing else None,
                                                 given=data.expiry_given, value=data.client_secret_expires_at,
                                                 secret_changed=renewed),
            # What Graph said is about the secret it was read for: a new secret (or app) is read again.
            client_secret_graph=existing.client_secret_graph if existing and not renewed else None,
            client_secret_read=existing.client_secret_read if existing and not renewed else None)
        return store.replace(existing, settings) if existing else store.create(settings)
