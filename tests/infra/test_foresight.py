"""Foresight's settings are deployed: PROVIDER_TENANT_ID (the provider's own tenant, where foresight reads its client
secret and its delegated admin relationships) and GDAP_CHECK come from azd through main.bicep to the function app,
off by default, and the deployed values make a configuration with those reads off until they are given."""
from __future__ import annotations

import json

import pytest

from shared.config import load_config

from .support import INFRA, app_settings, function_app_bicep, resolve_default
from .test_settings_drift import PLACEHOLDERS

PROVIDER_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture(scope="module")
def deployed(bicep) -> dict[str, str]:
    """Every app setting as azd deploys it without overrides (placeholders for what Azure computes)."""
    app = function_app_bicep(bicep)
    resolved = {name: resolve_default(app, value) for name, value in app_settings(app).items()}
    return {name: PLACEHOLDERS[name] if value is None else value for name, value in resolved.items()}


def test_azd_passes_the_provider_tenant_and_the_gdap_check_with_their_reads_off_by_default(bicep):
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["providerTenantId"] == {"value": "${PROVIDER_TENANT_ID=}"}
    assert parameters["gdapCheck"] == {"value": "${GDAP_CHECK=false}"}
    main = bicep["infra/main.bicep"]["parameters"]
    assert (main["providerTenantId"]["type"], main["providerTenantId"]["default"]) == ("string", "")
    # azd substitutes text: a string of two allowed values, which the app reads as its flag.
    allowed = [d["argument"] for d in main["gdapCheck"]["decorators"] if d["type"] == "allowed"]
    assert (main["gdapCheck"]["type"], main["gdapCheck"]["default"], allowed) == ("string", "false",
                                                                                [["true", "false"]])


def test_the_function_app_is_given_both_settings_from_main_bicep(bicep):
    app = function_app_bicep(bicep)
    values = app_settings(app)
    assert (values["PROVIDER_TENANT_ID"], values["GDAP_CHECK"]) == ("providerTenantId", "gdapCheck")
    assert (app.module_params["providerTenantId"], app.module_params["gdapCheck"]) == ("providerTenantId",
                                                                                        "gdapCheck")


def test_the_deployed_defaults_turn_the_providers_reads_off_and_a_tenant_turns_them_on(deployed):
    off = load_config(deployed)
    assert (off.provider_tenant_id, off.gdap_check) == (None, False)
    on = load_config({**deployed, "PROVIDER_TENANT_ID": PROVIDER_TENANT, "GDAP_CHECK": "true"})
    assert (on.provider_tenant_id, on.gdap_check) == (PROVIDER_TENANT, True)
