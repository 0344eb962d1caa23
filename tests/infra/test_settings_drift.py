"""Infra and code cannot drift apart: every setting the app reads is set by the Bicep or has a default.

Two independent views of "what the app reads", compared with the app settings declared on the
Microsoft.Web/sites resource in infra/ (parsed with pycep):

* static: `settings_scan` walks the AST of function_app.py, shared/ and functions/ (the code that
  runs in Azure; tools/ and tests/ do not) for environment lookups with a literal name, the keys of
  `DEFAULTS`, `%X%` binding expressions and `connection="X"` binding arguments;
* dynamic: `load_config` is called with a mapping that records every key it asks for.

A setting X counts as set by the Bicep when the Bicep sets X itself, or X__<something> (the
identity-based connection form, e.g. AzureWebJobsStorage__tableServiceUri for AzureWebJobsStorage).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from shared.config import load_config

from .settings_scan import app_sources, scan_files, scan_source
from .support import ROOT, app_settings, function_app_bicep, resolve_default

# The design's settings table: each one is an app setting in Azure, even where code has a default.
DESIGN_SETTINGS = (
    "AzureWebJobsStorage", "KEY_VAULT_URL", "ENTRA_AUTHORITY_HOST", "GRAPH_ENDPOINT", "VERIFY_SCHEDULE",
    "VERIFY_CONCURRENCY", "REQUIRED_APPLICATION_ROLES", "CONSENT_SCOPES", "GDAP_CHECK",
)
# Read today through the conventions settings_scan knows; if the scanner stops seeing one of these,
# the code changed its way of reading settings and the scanner must learn the new way.
KNOWN_READS = {"AzureWebJobsStorage", "AzureWebJobsStorage__tableServiceUri", "KEY_VAULT_URL",
               "VERIFY_CONCURRENCY", "VERIFY_SCHEDULE"}
# Set by the Bicep for the platform, not read by the app's own code.
PLATFORM_SETTINGS = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Functions host: where telemetry goes",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Functions host: telemetry through the identity (local auth off)",
    "AZURE_CLIENT_ID": "azure-identity: which user-assigned identity DefaultAzureCredential uses",
    "AzureWebJobsDisableHomepage": "Functions host: no welcome page at /, where the app serves its own page",
    "WEBSITE_AUTH_AAD_ALLOWED_TENANTS": "App Service Authentication: the only tenant whose tokens it accepts",
    "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID": "App Service Authentication: the identity it signs in with, "
                                              "instead of a client secret",
}
# Set by the platform on every site, never by the Bicep: what the app reads of them needs no default.
PLATFORM_PROVIDED = {
    "WEBSITE_HOSTNAME": "App Service: the site's default host name, where the app asks the host about a function key",
}
HOST_CONNECTIONS = {"AzureWebJobsStorage"}  # the host's own storage connection, always present
# Values Azure computes at deployment (resource endpoints, identity ids), for the dynamic check.
PLACEHOLDERS = {
    "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-00000000c11d",
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-00000000c11d",
    "AzureWebJobsStorage__blobServiceUri": "https://stexample.blob.core.windows.net/",
    "AzureWebJobsStorage__queueServiceUri": "https://stexample.queue.core.windows.net/",
    "AzureWebJobsStorage__tableServiceUri": "https://stexample.table.core.windows.net/",
    "KEY_VAULT_URL": "https://kv-example.vault.azure.net/",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "ClientId=00000000-0000-0000-0000-00000000c11d;Authorization=AAD",
    "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID": "00000000-0000-0000-0000-00000000c11d",
    "OPERATORS_TENANT_ID": "00000000-0000-0000-0000-0000000000a1",
    "WEBSITE_AUTH_AAD_ALLOWED_TENANTS": "00000000-0000-0000-0000-0000000000a1",
}


class RecordingEnv(dict[str, str]):
    """A mapping that remembers every key looked up in it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def set_by_bicep(name: str, bicep_names: Iterable[str]) -> bool:
    names = set(bicep_names)
    return name in names or any(n.startswith(f"{name}__") for n in names)


@pytest.fixture(scope="module")
def code():
    return scan_files(app_sources(ROOT), ROOT)


@pytest.fixture(scope="module")
def bicep_settings(bicep: dict[str, dict[str, Any]]) -> dict[str, Any]:
    settings = app_settings(function_app_bicep(bicep))
    assert settings, "the Bicep gives the function app no app settings"
    return settings


@pytest.fixture(scope="module")
def bicep_env(bicep: dict[str, dict[str, Any]], bicep_settings: dict[str, Any]) -> dict[str, str]:
    """The app settings as Azure would hold them with azd's defaults; computed ones are placeholders."""
    app = function_app_bicep(bicep)
    env, unknown = {}, []
    for name, value in bicep_settings.items():
        resolved = resolve_default(app, value)
        if resolved is None:
            resolved = PLACEHOLDERS.get(name)
        if resolved is None:
            unknown.append(name)
        else:
            env[name] = resolved
    assert not unknown, f"add a placeholder for these deployment-computed settings: {unknown}"
    return env


# --- the scanner itself: each pattern is seen, so the drift checks below can fail --------------

def test_scanner_sees_every_documented_way_of_reading_a_setting() -> None:
    use = scan_source('''
import os
from os import getenv
DEFAULTS = {"WITH_DEFAULT": "d"}
def load(env, body):
    a = env.get("GET")
    b = env["SUBSCRIPT"]
    c = "CONTAINS" in env
    d = os.environ.get("OS_ENVIRON_GET", "fallback")
    e = os.getenv("GETENV")
    f = getenv("BARE_GETENV")
    g = _get(env, "HELPER")
    h = env.get("OR_DEFAULT") or "x"
    i = body.get("notASetting")
    j = other["notASettingEither"]
@app.timer_trigger(schedule="%TIMER_SETTING%", arg_name="t")
@app.queue_trigger(arg_name="m", queue_name="q", connection="QueueConnection")
def f(t, m): ...
''')
    assert use.reads == {"WITH_DEFAULT", "GET", "SUBSCRIPT", "CONTAINS", "OS_ENVIRON_GET", "GETENV",
                         "BARE_GETENV", "HELPER", "OR_DEFAULT"}
    assert use.defaults == {"WITH_DEFAULT": "d", "OS_ENVIRON_GET": "fallback", "OR_DEFAULT": "x"}
    assert use.host_references == {"TIMER_SETTING", "QueueConnection"}


def test_scanner_still_sees_the_reads_the_code_makes_today(code) -> None:
    missing = KNOWN_READS - code.reads
    assert not missing, (
        f"the scanner no longer sees {sorted(missing)}: settings are now read in a way "
        "tests/infra/settings_scan.py does not know; teach it the new way"
    )


# --- static drift ------------------------------------------------------------------------------

def test_every_setting_the_app_reads_is_set_by_bicep_or_has_a_default(code, bicep_settings) -> None:
    missing = sorted(name for name in code.reads if name not in code.defaults and name not in PLATFORM_PROVIDED
                     and not set_by_bicep(name, bicep_settings))
    assert not missing, (
        "settings the app reads that the Bicep does not set and code gives no default: "
        + ", ".join(f"{n} ({code.where.get(n)})" for n in missing)
        + "; add them to the app settings in infra/modules/functionapp.bicep, or a default to DEFAULTS"
    )


def test_host_binding_settings_are_set_by_bicep(code, bicep_settings) -> None:
    """%X% and connection="X" are resolved by the Functions host from app settings: no code default helps."""
    missing = sorted(name for name in code.host_references
                     if name not in HOST_CONNECTIONS and not set_by_bicep(name, bicep_settings))
    assert not missing, f"binding settings the Bicep does not set: {missing}"


def test_every_bicep_setting_is_read_by_the_app_or_the_platform(code, bicep_settings) -> None:
    connections = HOST_CONNECTIONS | code.host_references
    unread = sorted(name for name in bicep_settings
                    if name not in code.reads and name not in code.host_references
                    and name not in PLATFORM_SETTINGS
                    and not any(name.startswith(f"{c}__") for c in connections))
    assert not unread, f"app settings in the Bicep that nothing reads (a typo?): {unread}"


def test_every_setting_of_the_design_table_is_an_app_setting(bicep_settings) -> None:
    missing = [name for name in DESIGN_SETTINGS if not set_by_bicep(name, bicep_settings)]
    assert not missing, f"settings of the design's table the Bicep does not set: {missing}"


def test_bicep_defaults_equal_the_code_defaults(bicep, code, bicep_settings) -> None:
    app = function_app_bicep(bicep)
    different = {}
    for name, value in bicep_settings.items():
        resolved = resolve_default(app, value)
        if name in code.defaults and resolved is not None and resolved != code.defaults[name]:
            different[name] = {"bicep": resolved, "code": code.defaults[name]}
    assert not different, f"the Bicep's defaults differ from the code's: {different}"


def test_storage_and_key_vault_come_from_the_identity_form(bicep_settings) -> None:
    assert "AzureWebJobsStorage" not in bicep_settings, "no connection string: storage goes through the identity"
    assert bicep_settings.get("AzureWebJobsStorage__credential") == "managedidentity"
    for name in ("AzureWebJobsStorage__clientId", "AzureWebJobsStorage__blobServiceUri",
                 "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri", "KEY_VAULT_URL"):
        assert name in bicep_settings, f"{name} is not set"
    for name, value in bicep_settings.items():
        text = str(value)
        assert "AccountKey" not in text and "listKeys" not in text and "SharedAccessSignature" not in text, \
            f"{name} carries a key"


# --- dynamic drift: what load_config actually asks for ---------------------------------------

def test_the_bicep_settings_make_a_working_configuration(bicep_env, code, bicep_settings) -> None:
    env = RecordingEnv(bicep_env)
    settings = load_config(env)
    assert settings.storage.connection_string is None
    assert settings.storage.credential == "managedidentity"
    assert settings.storage.client_id == PLACEHOLDERS["AzureWebJobsStorage__clientId"]
    assert settings.storage.table_service_uri == PLACEHOLDERS["AzureWebJobsStorage__tableServiceUri"]
    assert settings.storage.queue_service_uri == PLACEHOLDERS["AzureWebJobsStorage__queueServiceUri"]
    assert not settings.storage.is_local_emulator
    assert settings.key_vault_url == PLACEHOLDERS["KEY_VAULT_URL"]

    assert env.asked, "load_config asked the mapping for nothing: it no longer reads the mapping it is given"
    missing = sorted(name for name in env.asked if name not in code.defaults and name not in PLATFORM_PROVIDED
                     and not set_by_bicep(name, bicep_settings))
    assert not missing, f"load_config reads settings the Bicep does not set and code gives no default: {missing}"
