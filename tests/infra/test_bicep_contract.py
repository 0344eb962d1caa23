"""What issue 3 and the design ask of the Bicep, read from the parsed files (pycep JSON).

checkov covers the generic rules; these pin the choices of this product: Flex Consumption,
Python 3.11, one user-assigned identity, no keys anywhere, and exactly the roles the app needs.
"""
from __future__ import annotations

import re

import pytest

from .support import (
    accessor,
    app_settings,
    declaring,
    function_app_bicep,
    only,
    resolve_default,
    resources,
    strip_quotes,
)

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Every role the app's identity needs, on which resource type, and why; no other role may exist.
EXPECTED_ROLES = {
    ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Microsoft.Storage/storageAccounts"): "Storage Blob Data Owner",
    ("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Microsoft.Storage/storageAccounts"): "Storage Queue Data Contributor",
    ("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "Microsoft.Storage/storageAccounts"): "Storage Table Data Contributor",
    ("b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "Microsoft.KeyVault/vaults"): "Key Vault Secrets Officer",
    ("3913510d-42f4-4e42-8a64-420c390055eb", "Microsoft.Insights/components"): "Monitoring Metrics Publisher",
}
APP_TABLES = {"Tenants", "Settings", "VerificationRuns", "ConsentStates", "AuditLog"}
APP_QUEUES = {"verify-requests", "verify-requests-poison"}  # the host moves what fails 5 times to the second
CALLBACK_PATH = "/authenticate/OAuth2Callback"


# --- function app ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(bicep):
    return function_app_bicep(bicep)


def test_plan_is_flex_consumption_on_linux(app) -> None:
    plan = only(app.document, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True, "Flex Consumption is Linux: reserved must be true"


def test_app_runs_python_3_11_on_flex(app) -> None:
    site = app.site["config"]
    assert "functionapp" in site["kind"] and "linux" in site["kind"]
    runtime = site["properties"]["functionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "3.11"}
    assert site["properties"]["serverFarmId"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": "plan", "operand_2": "id"}}}


# What Microsoft's Flex Consumption samples (Azure-Samples/azure-functions-flex-consumption-samples) put in
# siteConfig: app settings, nothing else. ARM rejects ftpsState on FC1 (error 51021, region by region), and
# http20Enabled is hidden for Flex; the others belong to plans with fixed workers or a runtime in siteConfig.
FLEX_SITE_CONFIG = {"appSettings"}
NOT_FOR_FLEX_SITE_CONFIG = {"ftpsState", "http20Enabled", "alwaysOn", "linuxFxVersion", "use32BitWorkerProcess",
                            "netFrameworkVersion", "preWarmedInstanceCount", "functionAppScaleLimit",
                            "minimumElasticInstanceCount", "healthCheckPath"}


def test_app_is_https_only_without_affinity(app) -> None:
    properties = app.site["config"]["properties"]
    assert properties["httpsOnly"] is True
    assert properties["clientAffinityEnabled"] is False


def test_site_config_holds_no_ftps_state(app) -> None:
    site_config = app.site["config"]["properties"]["siteConfig"]
    assert "ftpsState" not in site_config, "Flex Consumption rejects siteConfig.ftpsState (ARM error 51021)"


def test_site_config_holds_only_what_the_flex_samples_set(app) -> None:
    site_config = app.site["config"]["properties"]["siteConfig"]
    assert not NOT_FOR_FLEX_SITE_CONFIG & set(site_config), sorted(NOT_FOR_FLEX_SITE_CONFIG & set(site_config))
    assert set(site_config) == FLEX_SITE_CONFIG, f"siteConfig sets {sorted(set(site_config) - FLEX_SITE_CONFIG)}"


def test_the_host_default_home_page_is_off(app) -> None:
    """GET / is the Authentication Status page, not the Functions host's welcome page."""
    assert resolve_default(app, app_settings(app)["AzureWebJobsDisableHomepage"]) == "true"


def test_app_runs_as_one_user_assigned_identity(app) -> None:
    identity = app.site["config"]["identity"]
    assert identity["type"] == "UserAssigned", "one user-assigned identity, no system-assigned one"
    (key,) = identity["userAssignedIdentities"].keys()
    identity_param = strip_quotes(key).removeprefix("${").removesuffix("}")
    deployment = app.site["config"]["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert deployment["type"] == "blobContainer"
    assert deployment["authentication"] == {"type": "UserAssignedIdentity",
                                            "userAssignedIdentityResourceId": identity_param}
    assert accessor(app.module_params[identity_param]) == ("identity", "outputs", "id")


def test_maximum_instance_count_is_a_parameter(app) -> None:
    scale = app.site["config"]["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    param = scale["maximumInstanceCount"]
    assert param in (app.document.get("parameters") or {}), "maximumInstanceCount must come from a parameter"
    passed = app.module_params.get(param)
    main_param = (app.main.get("parameters") or {}).get(passed)
    assert main_param and main_param["type"] == "int", "main.bicep must expose maximumInstanceCount as an int"
    assert isinstance(main_param.get("default"), int)


def test_settings_reach_storage_key_vault_and_telemetry_through_the_identity(app) -> None:
    settings = app_settings(app)
    client_ids = {settings[n] for n in ("AzureWebJobsStorage__clientId", "AZURE_CLIENT_ID")}
    assert len(client_ids) == 1, "storage and the SDKs must use the same identity"
    (client_id_param,) = client_ids
    assert accessor(app.module_params[client_id_param]) == ("identity", "outputs", "clientId")
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == f"ClientId=${{{client_id_param}}};Authorization=AAD"
    kv_param = settings["KEY_VAULT_URL"]
    assert accessor(app.module_params[kv_param]) == ("keyVault", "outputs", "uri")
    for service in ("blob", "queue", "table"):
        param = settings[f"AzureWebJobsStorage__{service}ServiceUri"]
        assert accessor(app.module_params[param]) == ("storage", "outputs", f"{service}Endpoint")
    assert resolve_default(app, settings["VERIFY_SCHEDULE"]), "the timer's schedule must have a value"


# Flex Consumption takes the runtime from functionAppConfig and has no content share: these app
# settings are rejected or ignored there.
NOT_ON_FLEX = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
               "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE", "WEBSITE_NODE_DEFAULT_VERSION"}


def test_no_app_setting_that_flex_consumption_rejects(app) -> None:
    present = NOT_ON_FLEX & set(app_settings(app))
    assert not present, f"not supported on Flex Consumption: {sorted(present)}"


# --- storage -----------------------------------------------------------------------------------

def test_storage_accepts_no_shared_key_and_no_anonymous_read(bicep) -> None:
    _, document = declaring(bicep, "Microsoft.Storage/storageAccounts")
    properties = only(document, "Microsoft.Storage/storageAccounts")["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    for container in resources(document, "Microsoft.Storage/storageAccounts/blobServices/containers").values():
        assert container["config"]["properties"]["publicAccess"] == "None"


def test_storage_holds_the_app_queue_tables_and_deployment_container(bicep) -> None:
    main = bicep["infra/main.bicep"]
    (storage_module,) = [m for m in main["modules"].values() if m["detail"]["path"].endswith("storage.bicep")]
    params = storage_module["config"]["params"]
    variables = main.get("variables") or {}
    assert set(variables[params["queueNames"]]["value"]) == APP_QUEUES
    assert set(variables[params["tableNames"]]["value"]) == APP_TABLES
    _, document = declaring(bicep, "Microsoft.Storage/storageAccounts")
    for resource_type, array in (("queueServices/queues", "queueNames"), ("tableServices/tables", "tableNames")):
        (loop,) = resources(document, f"Microsoft.Storage/storageAccounts/{resource_type}").values()
        assert loop["config"]["loop_type"]["detail"]["array_name"] == array
    assert resources(document, "Microsoft.Storage/storageAccounts/blobServices/containers")


# --- Key Vault ---------------------------------------------------------------------------------

def test_key_vault_uses_rbac_soft_delete_and_purge_protection(bicep) -> None:
    _, document = declaring(bicep, "Microsoft.KeyVault/vaults")
    properties = only(document, "Microsoft.KeyVault/vaults")["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enableSoftDelete"] is True
    assert properties["enablePurgeProtection"] is True
    assert not properties.get("accessPolicies"), "RBAC only: no access policies"
    assert properties["publicNetworkAccess"] in (document.get("parameters") or {}), \
        "public network access must be a parameter"


def test_key_vault_public_access_is_a_main_parameter(bicep) -> None:
    main = bicep["infra/main.bicep"]
    (kv_module,) = [m for m in main["modules"].values() if m["detail"]["path"].endswith("keyvault.bicep")]
    passed = kv_module["config"]["params"]["publicNetworkAccess"]
    param = main["parameters"][passed]
    allowed = next(d["argument"] for d in param["decorators"] if d["type"] == "allowed")
    assert set(allowed) == {"Enabled", "Disabled"}


# --- monitoring --------------------------------------------------------------------------------

def test_monitoring_disables_local_auth(bicep) -> None:
    _, document = declaring(bicep, "Microsoft.Insights/components")
    insights = only(document, "Microsoft.Insights/components")["properties"]
    workspace = only(document, "Microsoft.OperationalInsights/workspaces")["properties"]
    assert insights["DisableLocalAuth"] is True
    assert insights.get("WorkspaceResourceId"), "Application Insights must be workspace-based"
    assert workspace["features"]["disableLocalAuth"] is True


# --- role assignments --------------------------------------------------------------------------

def test_role_assignments_live_in_one_module(bicep) -> None:
    files = [p for p, d in bicep.items() if resources(d, "Microsoft.Authorization/roleAssignments")]
    assert files == ["infra/modules/rbac.bicep"], f"role assignments outside rbac.bicep: {files}"


def test_the_app_holds_exactly_the_roles_it_needs(bicep) -> None:
    document = bicep["infra/modules/rbac.bicep"]
    variables = document.get("variables") or {}
    assignments = resources(document, "Microsoft.Authorization/roleAssignments")
    found = {}
    for name, assignment in assignments.items():
        config = assignment["config"]
        role_ref = config["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        path = accessor(role_ref)
        role_id = variables[path[0]]["value"][path[1]] if len(path) == 2 else path[0]
        assert GUID.match(role_id), f"{name}: {role_id} is not a role definition id"
        scope_type = document["resources"][config["scope"]]["type"]
        assert (role_id, scope_type) not in found, f"{name} repeats a role"
        found[(role_id, scope_type)] = name
        assert config["properties"]["principalType"] == "ServicePrincipal"
        assert config["properties"]["principalId"] == "principalId"
        guid_args = config["name"]["function"]["parameters"]
        assert config["name"]["function"]["type"] == "guid"
        assert accessor(guid_args["base_string"]) == (config["scope"], "id"), f"{name}: name not from its scope"
        assert "principalId" in guid_args.values() and role_ref in guid_args.values(), \
            f"{name}: name must be guid(scope.id, principalId, roleId)"
    assert set(found) == set(EXPECTED_ROLES), (
        f"missing: {[EXPECTED_ROLES[k] for k in set(EXPECTED_ROLES) - set(found)]}; "
        f"unexpected: {sorted(set(found) - set(EXPECTED_ROLES))}"
    )


def test_roles_go_to_the_app_identity(bicep) -> None:
    main = bicep["infra/main.bicep"]
    (rbac,) = [m for m in main["modules"].values() if m["detail"]["path"].endswith("rbac.bicep")]
    assert accessor(rbac["config"]["params"]["principalId"]) == ("identity", "outputs", "principalId")


# --- outputs -----------------------------------------------------------------------------------

def test_outputs_give_the_app_url_the_redirect_url_and_the_vault_uri(bicep) -> None:
    main = bicep["infra/main.bicep"]
    outputs = {name: o["value"] for name, o in main["outputs"].items()}
    app_url = outputs["FUNCTION_APP_URL"]
    assert re.fullmatch(r"https://\$\{[A-Za-z_.]+\.defaultHostName\}", app_url), app_url
    assert outputs["REDIRECT_URL"] == app_url + CALLBACK_PATH
    assert accessor(outputs["KEY_VAULT_URI"]) == ("keyVault", "outputs", "uri")
    assert accessor(outputs["AZURE_STORAGE_ACCOUNT_NAME"]) == ("storage", "outputs", "name")  # README's checks
    _, kv_document = declaring(bicep, "Microsoft.KeyVault/vaults")
    (vault_symbol,) = [s for s, r in resources(kv_document, "Microsoft.KeyVault/vaults").items()
                       if not r.get("existing")]
    assert accessor(kv_document["outputs"]["uri"]["value"]) == (vault_symbol, "properties", "vaultUri")


def test_every_queue_the_app_triggers_on_is_provisioned(bicep) -> None:
    """A queue trigger on a queue that does not exist only polls nothing; README's checks peek at the poison one."""
    from tests.support.registry import registered_functions

    triggered = {f.get_trigger().queue_name for f in registered_functions()
                 if f.get_trigger().get_binding_name() == "queueTrigger"}
    assert triggered == APP_QUEUES
