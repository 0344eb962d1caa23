"""The provider's app credential (Client Id + Client Secret) as verification and consent use it.

A run verifies thousands of customers: reading the client secret for each would cost a Key Vault read per
customer, and Key Vault throttles a vault at a few thousand reads per ten seconds. A secret version never
changes, so the secret is kept by version; the settings (a cheap table read) are read every time, so Apply
Changes takes effect at once.
"""
from __future__ import annotations

import threading

from ..domain.models import ProviderSettings
from ..domain.ports import ProviderSettingsStore, SecretStore
from ..domain.secrets import ProviderSecret
from ..domain.verification import AppCredential


class ProviderCredential:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple[str, str, str] | None = None  # (client id, secret version, secret)
        self.settings: ProviderSettings | None = None  # as the latest get() read them (foresight reads its dates)

    def __repr__(self) -> str:
        return "ProviderCredential(<not shown>)"

    def get(self, settings_store: ProviderSettingsStore, secrets: SecretStore) -> AppCredential | None:
        """The credential, or None while the settings lack a Client Id or a readable Client Secret."""
        settings = self.settings = settings_store.get()
        if settings is None or not settings.client_id or settings.client_secret_version is None:
            return None
        with self._lock:
            kept = self._kept
        if kept is not None and kept[:2] == (settings.client_id, settings.client_secret_version):
            return AppCredential(kept[0], kept[2])
        secret = secrets.get(None, ProviderSecret.CLIENT_SECRET, settings.client_secret_version)
        if secret is None:
            return None
        with self._lock:
            self._kept = (settings.client_id, settings.client_secret_version, secret)
        return AppCredential(settings.client_id, secret)
