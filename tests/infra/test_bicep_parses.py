"""Every .bicep file parses, and main.bicep's local modules all exist."""
from __future__ import annotations

from typing import Any

import pytest

from .support import INFRA, ROOT, bicep_files, rel

EXPECTED_FILES = {
    "infra/main.bicep",
    "infra/modules/identity.bicep",
    "infra/modules/storage.bicep",
    "infra/modules/keyvault.bicep",
    "infra/modules/monitoring.bicep",
    "infra/modules/functionapp.bicep",
    "infra/modules/rbac.bicep",
    "infra/modules/alerts.bicep",
}


def test_the_expected_bicep_files_exist() -> None:
    missing = EXPECTED_FILES - {rel(p) for p in bicep_files()}
    assert not missing, f"missing Bicep files: {sorted(missing)}"


@pytest.mark.parametrize("path", [rel(p) for p in bicep_files()])
def test_file_parses(path: str, bicep_parse_results: dict[str, dict[str, Any]]) -> None:
    result = bicep_parse_results[path]
    assert "error" not in result, f"pycep cannot parse {path}: {result.get('error')}"
    assert result["document"].get("resources") or result["document"].get("modules"), \
        f"{path} parsed to a document that declares nothing"


def test_main_deploys_only_local_modules_that_exist(bicep: dict[str, dict[str, Any]]) -> None:
    modules = bicep["infra/main.bicep"].get("modules") or {}
    assert modules, "main.bicep deploys no module"
    for name, module in modules.items():
        assert module["type"] == "local", f"module {name} is not a local file ({module['type']})"
        target = INFRA / module["detail"]["path"]
        assert target.is_file(), f"module {name} points at {target.relative_to(ROOT)}, which does not exist"


def test_every_module_file_is_deployed_by_main(bicep: dict[str, dict[str, Any]]) -> None:
    deployed = {f"infra/{m['detail']['path']}" for m in (bicep["infra/main.bicep"].get("modules") or {}).values()}
    unused = {p for p in bicep if p != "infra/main.bicep"} - deployed
    assert not unused, f"Bicep files no module deploys (dead code, or a module name typo): {sorted(unused)}"
