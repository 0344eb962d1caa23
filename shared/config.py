"""The app's configuration, read from the environment (or local.settings.json Values, which the host puts there).

"Settings" in this project means the provider's consent settings (GET/PUT /api/settings); what the
environment holds is configuration.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from .domain.access import SignIn, sign_in_from
from .domain.errors import ConfigurationError
from .domain.rules import is_domain, is_guid

# azure-data-tables does not accept the UseDevelopmentStorage=true shorthand: this is what it means.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;"
    f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)

DEFAULTS: dict[str, str] = {
    "ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.com",
    "GRAPH_ENDPOINT": "https://graph.microsoft.com",
    "VERIFY_SCHEDULE": "0 0 */6 * * *",
    "VERIFY_CONCURRENCY": "16",
    "REQUIRED_APPLICATION_ROLES": "User.Read.All",
    "CONSENT_SCOPES": "https://graph.microsoft.com/.default",
    "LOCAL_SECRETS_FILE": ".local/dev-secrets.json",
    "REMINDER_INTERVAL": "24:00:00",
    "GDAP_CHECK": "false",
    "PROVIDER_TENANT_ID": "",  # none: the provider's own Graph reads are off
    "PAGE_URL": "",  # empty: the app's own host name (WEBSITE_HOSTNAME), else the local host
}

# A TimeSpan as the design writes it: "hh:mm:ss" (any number of hours) or "d.hh:mm:ss"; "0" alone turns it off.
_TIMESPAN = re.compile(r"(?:(?P<days>[0-9]{1,5})\.(?P<day_hours>[0-9]{2})|(?P<hours>[0-9]{1,6})):(?P<minutes>[0-9]{2})"
                       r":(?P<seconds>[0-9]{2})")


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Either a connection string, or service URIs reached with an Entra ID credential."""

    connection_string: str | None = None
    table_service_uri: str | None = None
    queue_service_uri: str | None = None
    credential: str | None = None  # "managedidentity" or None (DefaultAzureCredential)
    client_id: str | None = None

    @property
    def is_local_emulator(self) -> bool:
        if self.connection_string is not None:
            return f"AccountName={AZURITE_ACCOUNT}" in self.connection_string
        host = urlsplit(self.table_service_uri or "").hostname or ""
        return host in {"127.0.0.1", "localhost", "::1"}


LOCAL_PAGE_URL = "http://localhost:7071/"


@dataclass(frozen=True, slots=True)
class AppConfig:
    storage: StorageConfig
    key_vault_url: str | None
    entra_authority_host: str
    graph_endpoint: str
    verify_schedule: str
    verify_concurrency: int
    required_application_roles: tuple[str, ...]
    consent_scopes: tuple[str, ...]
    local_secrets_file: str
    reminder_interval: timedelta = timedelta(hours=24)  # timedelta(0): reminders are off
    gdap_check: bool = False  # GDAP_CHECK: read the provider's delegated admin relationships for expiry warnings
    provider_tenant_id: str | None = None  # PROVIDER_TENANT_ID: where the provider's app lives (its Graph reads)
    sign_in: SignIn = SignIn()  # operators' sign-in (shared/domain/access.py); off by default
    website_hostname: str | None = None  # the platform's WEBSITE_HOSTNAME: where a function key is checked
    page_url: str = LOCAL_PAGE_URL  # the status page, which alert messages link to

    @property
    def provider_graph_reads(self) -> bool:
        """Whether foresight reads the provider's client secret (and relationships) from Graph: a tenant is set."""
        return self.provider_tenant_id is not None


def connection_string(value: str) -> str:
    """The storage connection string a setting means: the UseDevelopmentStorage=true shorthand is local Azurite."""
    value = value.strip()
    shorthand = value.replace(" ", "").lower().rstrip(";") == "usedevelopmentstorage=true"
    return AZURITE_CONNECTION_STRING if shorthand else value


def _storage(env: Mapping[str, str]) -> StorageConfig:
    raw = (env.get("AzureWebJobsStorage") or "").strip()
    if raw:
        return StorageConfig(connection_string=connection_string(raw))
    table_uri = (env.get("AzureWebJobsStorage__tableServiceUri") or "").strip()
    if not table_uri:
        raise ConfigurationError(
            "Storage is not configured: set AzureWebJobsStorage to a connection string, or "
            "AzureWebJobsStorage__tableServiceUri (with __queueServiceUri) for identity-based access."
        )
    return StorageConfig(
        table_service_uri=table_uri,
        queue_service_uri=(env.get("AzureWebJobsStorage__queueServiceUri") or "").strip() or None,
        credential=(env.get("AzureWebJobsStorage__credential") or "").strip().lower() or None,
        client_id=(env.get("AzureWebJobsStorage__clientId") or "").strip() or None,
    )


def _get(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    return value or DEFAULTS[name]


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace(" ", ",").split(",") if part.strip())


def parse_timespan(name: str, value: str) -> timedelta:
    """`value` of setting `name` as a duration: "hh:mm:ss" (hours may pass 23: "24:00:00" is a day, unlike .NET's
    TimeSpan.Parse, which reads that as 24 days), "d.hh:mm:ss", or "0" for none."""
    text = value.strip()
    if text == "0":
        return timedelta(0)
    match = _TIMESPAN.fullmatch(text)
    if match is None or int(match["minutes"]) > 59 or int(match["seconds"]) > 59 or (
            match["day_hours"] is not None and int(match["day_hours"]) > 23):
        raise ConfigurationError(
            f"{name} must be a duration as hh:mm:ss or d.hh:mm:ss (e.g. 24:00:00 or 1.00:00:00), or 0 for none, "
            f"not {value!r}.")
    hours = int(match["hours"]) if match["hours"] is not None else int(match["days"]) * 24 + int(match["day_hours"])
    return timedelta(hours=hours, minutes=int(match["minutes"]), seconds=int(match["seconds"]))


def load_config(env: Mapping[str, str] | None = None) -> AppConfig:
    env = os.environ if env is None else env
    concurrency_raw = _get(env, "VERIFY_CONCURRENCY")
    try:
        concurrency = int(concurrency_raw)
    except ValueError:
        raise ConfigurationError(f"VERIFY_CONCURRENCY must be a whole number, not {concurrency_raw!r}.") from None
    if not 1 <= concurrency <= 256:
        raise ConfigurationError("VERIFY_CONCURRENCY must be between 1 and 256.")
    key_vault_url = (env.get("KEY_VAULT_URL") or "").strip() or None
    if key_vault_url and urlsplit(key_vault_url).scheme != "https":
        raise ConfigurationError("KEY_VAULT_URL must be an https URL, e.g. https://<vault>.vault.azure.net/.")
    return AppConfig(
        storage=_storage(env),
        key_vault_url=key_vault_url,
        entra_authority_host=_get(env, "ENTRA_AUTHORITY_HOST").rstrip("/"),
        graph_endpoint=_get(env, "GRAPH_ENDPOINT").rstrip("/"),
        verify_schedule=_get(env, "VERIFY_SCHEDULE"),
        verify_concurrency=concurrency,
        required_application_roles=_csv(_get(env, "REQUIRED_APPLICATION_ROLES")),
        consent_scopes=_csv(_get(env, "CONSENT_SCOPES")),
        local_secrets_file=_get(env, "LOCAL_SECRETS_FILE"),
        reminder_interval=parse_timespan("REMINDER_INTERVAL", _get(env, "REMINDER_INTERVAL")),
        gdap_check=_flag(env, "GDAP_CHECK"),
        provider_tenant_id=_tenant(env, "PROVIDER_TENANT_ID"),
        sign_in=sign_in_from(env),
        website_hostname=(env.get("WEBSITE_HOSTNAME") or "").strip() or None,
        page_url=_page_url(env),
    )


def _tenant(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or DEFAULTS[name]).strip()
    value = raw.lower()  # lower() folds some letters into ASCII ones: judge what was given, not what it folds to
    if raw and not (raw.isascii() and (is_guid(value) or is_domain(value))):
        raise ConfigurationError(f"{name} must be a tenant id (a GUID) or its domain name, not {raw!r}.")
    return value or None


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = _get(env, name).lower()
    if value not in ("true", "false"):
        raise ConfigurationError(f"{name} must be true or false, not {value!r}.")
    return value == "true"


def _page_url(env: Mapping[str, str]) -> str:
    """PAGE_URL, else the app's own host name (App Service sets WEBSITE_HOSTNAME, read-only), else the local host."""
    if explicit := _get(env, "PAGE_URL").strip():
        return explicit
    host = (env.get("WEBSITE_HOSTNAME") or "localhost").strip()
    return LOCAL_PAGE_URL if host == "localhost" else f"https://{host}/"
