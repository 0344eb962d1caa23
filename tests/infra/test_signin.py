"""Operators' sign-in (issue 18): App Service Authentication only when azd is given OPERATORS_CLIENT_ID, for one
tenant, with the callback and health open, no client secret, and the settings the app reads to decide.

The resource's condition is evaluated from the parsed Bicep (support.evaluate) for what azd passes through
main.bicep into the module.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from shared.domain.access import ROUTE_ROLES, sign_in_from

from .support import INFRA, accessor, app_settings, body, evaluate, function_app_bicep, resolve_default, resources
from .test_settings_drift import PLACEHOLDERS

AUTH = "Microsoft.Web/sites/config"
CLIENT = "11111111-2222-4333-8444-555555555555"
FEDERATED_SETTING = "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID"


@pytest.fixture(scope="module")
def module(bicep: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return bicep["infra/modules/signin.bicep"]


@pytest.fixture(scope="module")
def auth(module) -> dict[str, Any]:
    (resource,) = resources(module, AUTH).values()
    return resource


@pytest.fixture(scope="module")
def settings(auth) -> dict[str, Any]:
    config = body(auth)
    assert config["name"] == "authsettingsV2"
    return config["properties"]


def _signin_call(bicep) -> dict[str, Any]:
    main = bicep["infra/main.bicep"]
    (call,) = [m for m in main["modules"].values() if m["detail"]["path"] == "modules/signin.bicep"]
    return call["config"]


def _deployed_for(bicep, auth, azd_value: str) -> bool:
    """Whether the authsettingsV2 resource is deployed when azd passes OPERATORS_CLIENT_ID=<azd_value>."""
    passed = evaluate(_signin_call(bicep)["params"]["operatorsClientId"], {"operatorsClientId": azd_value})
    return evaluate(auth["config"]["condition"], {"operatorsClientId": passed})


# --- present only with the parameter ------------------------------------------------------------------------------

def test_the_client_id_comes_from_azd_with_an_empty_default(bicep):
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["operatorsClientId"] == {"value": "${OPERATORS_CLIENT_ID=}"}
    main_param = bicep["infra/main.bicep"]["parameters"]["operatorsClientId"]
    assert main_param["type"] == "string" and main_param["default"] == ""


def test_without_a_client_id_there_is_no_authentication_resource(bicep, auth):
    assert _deployed_for(bicep, auth, "") is False
    assert _deployed_for(bicep, auth, CLIENT) is True


def test_only_the_signin_module_configures_authentication(bicep):
    declared = [(path, r["config"].get("name") or body(r).get("name")) for path, doc in bicep.items()
                for r in resources(doc, AUTH).values()]
    assert [path for path, name in declared if name and "auth" in name.lower()] == ["infra/modules/signin.bicep"]


def test_it_applies_to_the_function_app(bicep, module, auth):
    parent = module["resources"][body(auth)["parent"]]
    assert parent["type"] == "Microsoft.Web/sites" and parent["existing"] is True
    assert accessor(_signin_call(bicep)["params"][parent["config"]["name"]]) == ("functionApp", "outputs", "name")


# --- who may sign in ------------------------------------------------------------------------------------------------

def test_only_the_providers_own_tenant_signs_in(bicep, settings):
    aad = settings["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True and settings["platform"]["enabled"] is True
    # The v2.0 issuer of one tenant, never common/organizations/consumers: other tenants' tokens fail validation.
    issuer = aad["registration"]["openIdIssuer"]
    assert issuer == "${environment().authentication.loginEndpoint}${operatorsTenantId}/v2.0"
    for shared_authority in ("common", "organizations", "consumers"):
        assert shared_authority not in issuer
    call = _signin_call(bicep)
    assert call["params"]["operatorsTenantId"]["function"]["type"] == "tenant"
    # The platform's tenant list, and the app's own check, name the same tenant.
    app = function_app_bicep(bicep)
    app_values = app_settings(app)
    assert app_values["WEBSITE_AUTH_AAD_ALLOWED_TENANTS"] == app_values["OPERATORS_TENANT_ID"] == "operatorsTenantId"
    assert app.module_params["operatorsTenantId"] == call["params"]["operatorsTenantId"]


def test_tokens_must_be_for_the_operators_registration(settings):
    aad = settings["identityProviders"]["azureActiveDirectory"]
    assert aad["registration"]["clientId"] == "operatorsClientId"
    assert aad["validation"]["allowedAudiences"] == ["operatorsClientId", "api://${operatorsClientId}"]


def test_no_client_secret_the_app_identity_signs_in(bicep, settings):
    registration = settings["identityProviders"]["azureActiveDirectory"]["registration"]
    assert registration["clientSecretSettingName"] == FEDERATED_SETTING
    assert "clientSecretCertificateThumbprint" not in registration
    app = function_app_bicep(bicep)
    values = app_settings(app)
    # The setting holds the client id of the identity the app runs as (the federated credential's subject).
    assert values[FEDERATED_SETTING] == values["AZURE_CLIENT_ID"] == "identityClientId"
    assert "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET" not in values


# --- what the platform does with a request -------------------------------------------------------------------------

def test_the_platform_blocks_nobody_and_the_app_decides(settings):
    """One action for the whole site cannot both redirect / and answer /api/* with 401, and requests with a
    function key must reach the Functions host: the app answers both (shared/domain/access.py)."""
    validation = settings["globalValidation"]
    assert validation["requireAuthentication"] is False
    assert validation["unauthenticatedClientAction"] == "AllowAnonymous"


def test_the_callback_and_health_are_excluded(module, settings):
    excluded = evaluate(settings["globalValidation"]["excludedPaths"], {
        name: variable["value"] for name, variable in (module.get("variables") or {}).items()})
    assert sorted(excluded) == ["/api/health", "/authenticate/OAuth2Callback"]
    # Both are routes the app serves to anyone.
    for path in excluded:
        assert any(route == path and needed is None for (_, route), needed in ROUTE_ROLES.items()), path


def test_sessions_are_https_only_and_keep_no_tokens(settings):
    assert settings["httpSettings"]["requireHttps"] is True
    assert settings["httpSettings"]["routes"]["apiPrefix"] == "/.auth"
    assert settings["login"]["tokenStore"]["enabled"] is False
    assert settings["login"]["nonce"]["validateNonce"] is True
    assert settings["login"]["preserveUrlFragmentsForLogins"] is False
    assert "allowedExternalRedirectUrls" not in settings["login"]


# --- what the app reads ---------------------------------------------------------------------------------------------

def test_the_app_is_told_the_client_id_and_the_tenant(bicep):
    app = function_app_bicep(bicep)
    values = app_settings(app)
    assert values["OPERATORS_CLIENT_ID"] == "operatorsClientId"
    assert app.module_params["operatorsClientId"] == "operatorsClientId"  # main.bicep's, from azd
    assert resolve_default(app, values["OPERATORS_CLIENT_ID"]) == ""  # sign-in off by default


def test_the_bicep_never_sets_the_platforms_own_flag(bicep):
    """WEBSITE_AUTH_ENABLED is the platform's: set by the Bicep it would make the app trust a forged principal."""
    assert "WEBSITE_AUTH_ENABLED" not in app_settings(function_app_bicep(bicep))
    texts = [p.read_text(encoding="utf-8") for p in INFRA.rglob("*.bicep")]
    assert not any("WEBSITE_AUTH_ENABLED" in text for text in texts)


def test_the_deployed_settings_make_a_working_sign_in(bicep):
    app = function_app_bicep(bicep)
    resolved = {name: resolve_default(app, value) for name, value in app_settings(app).items()}
    values = {name: PLACEHOLDERS[name] if value is None else value for name, value in resolved.items()}
    assert not sign_in_from(values).configured
    on = sign_in_from({**values, "OPERATORS_CLIENT_ID": CLIENT, "WEBSITE_AUTH_ENABLED": "True"})
    assert (on.client_id, on.tenant_id, on.principals_trusted) == (CLIENT, PLACEHOLDERS["OPERATORS_TENANT_ID"], True)
