"""azure.yaml, main.parameters.json and abbreviations.json agree with main.bicep, so `azd up` works."""
from __future__ import annotations

import json
import re
from typing import Any

import yaml

from .support import INFRA, ROOT, body, function_app_bicep, resolve_default, resources, strip_quotes

AZD_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Z][A-Z0-9_]*)(?:=(?P<default>[^}]*))?\}$")
TAGGED_TYPES = {
    "Microsoft.Resources/resourceGroups", "Microsoft.ManagedIdentity/userAssignedIdentities",
    "Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults", "Microsoft.OperationalInsights/workspaces",
    "Microsoft.Insights/components", "Microsoft.Web/serverfarms", "Microsoft.Web/sites",
    "Microsoft.Insights/actionGroups", "Microsoft.Insights/scheduledQueryRules",
}


def load_azure_yaml() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))


def test_azure_yaml_deploys_this_folder_as_a_python_function_app() -> None:
    config = load_azure_yaml()
    assert config["infra"]["provider"] == "bicep"
    assert (ROOT / config["infra"]["path"] / f"{config['infra']['module']}.bicep").is_file()
    (service,) = config["services"].values()
    assert service["host"] == "function" and service["language"] == "python"
    project = ROOT / service["project"]
    assert (project / "host.json").is_file() and (project / "requirements.txt").is_file(), \
        "the service project must be the function app root (host.json, requirements.txt)"


def test_the_azd_service_name_tags_the_function_app(bicep) -> None:
    (service_name,) = load_azure_yaml()["services"].keys()
    app = function_app_bicep(bicep)
    tags = app.site["config"]["tags"]["function"]
    assert tags["type"] == "union"
    extra = {strip_quotes(k): v for k, v in tags["parameters"]["arg_2"].items()}
    assert resolve_default(app, extra["azd-service-name"]) == service_name


def test_every_resource_carries_the_azd_environment_tag(bicep) -> None:
    main = bicep["infra/main.bicep"]
    assert {strip_quotes(k): v for k, v in main["variables"]["tags"]["value"].items()} == \
        {"azd-env-name": "environmentName"}
    untagged = [f"{path}: {name}" for path, doc in bicep.items() for name, r in (doc.get("resources") or {}).items()
                if r["type"] in TAGGED_TYPES and not r.get("existing") and "tags" not in body(r)]
    assert not untagged, f"resources without tags: {untagged}"
    for name, module in main["modules"].items():
        params = module["config"]["params"]
        if "tags" in params:
            assert params["tags"] == "tags", f"module {name} must get main's tags"


def test_parameters_file_holds_azd_variables_only(bicep) -> None:
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    main_params = bicep["infra/main.bicep"]["parameters"]
    for name, entry in document["parameters"].items():
        assert name in main_params, f"main.parameters.json sets {name}, which main.bicep does not declare"
        assert set(entry) == {"value"}, f"{name}: only a value"
        match = AZD_VARIABLE.match(str(entry["value"]))
        assert match, f"{name}: {entry['value']!r} is not an azd variable (${{NAME}} or ${{NAME=default}})"
        allowed = [d["argument"] for d in main_params[name]["decorators"] if d["type"] == "allowed"]
        if match["default"] is not None and allowed:
            assert match["default"] in allowed[0], f"{name}: default {match['default']!r} not in {allowed[0]}"
    required = {n for n, p in main_params.items() if "default" not in p or p["default"] is None}
    missing = sorted(required - set(document["parameters"]))
    assert not missing, f"main.bicep parameters without a default that azd is not given: {missing}"
    assert document["parameters"]["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert document["parameters"]["location"]["value"] == "${AZURE_LOCATION}"


def test_names_come_from_abbreviations(bicep) -> None:
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text(encoding="utf-8"))
    main_text = (INFRA / "main.bicep").read_text(encoding="utf-8")
    assert "loadJsonContent('abbreviations.json')" in main_text
    used = set(re.findall(r"\babbrs\.([A-Za-z]+)", main_text))
    assert used, "main.bicep names nothing from abbreviations.json"
    assert used <= set(abbreviations), f"unknown abbreviations: {sorted(used - set(abbreviations))}"
    unused = set(abbreviations) - used
    assert not unused, f"abbreviations.json entries main.bicep does not use: {sorted(unused)}"
    assert all(isinstance(v, str) and v for v in abbreviations.values())


def test_main_targets_the_subscription_and_creates_the_resource_group(bicep) -> None:
    main = bicep["infra/main.bicep"]
    assert main["globals"]["scope"]["value"] == "subscription"
    assert resources(main, "Microsoft.Resources/resourceGroups"), "azd expects main.bicep to create the group"
    for name, module in main["modules"].items():
        assert module["config"].get("scope") == "rg", f"module {name} must deploy into the environment's group"
