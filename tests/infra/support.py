"""Paths and small helpers shared by the infrastructure checks (imported by tests and conftest)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
INFRA_VENV = ROOT / ".venv-infra"
# pycep's first parse builds a grammar cache (about 15 s); checkov takes about 10 s.
TOOL_TIMEOUT_SECONDS = 600


def infra_tool(name: str) -> Path:
    """A program of .venv-infra; fails the test (not skips it) when the environment is missing."""
    path = INFRA_VENV / "bin" / name
    if not path.exists():
        pytest.fail(
            f"{path.relative_to(ROOT)} is missing: run `make setup`, which installs "
            "requirements-infra.txt into .venv-infra.",
            pytrace=False,
        )
    return path


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def resources(document: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The resources of one type in a parsed document, by symbolic name."""
    return {name: r for name, r in (document.get("resources") or {}).items() if r["type"] == resource_type}


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's declaration; pycep nests it one level deeper, beside `condition`, for `= if (...) {...}`."""
    config = resource["config"]
    return config["config"] if "condition" in config else config


def only(document: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = [r for r in resources(document, resource_type).values() if not r.get("existing")]
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]["config"]


def declaring(bicep: dict[str, dict[str, Any]], resource_type: str) -> tuple[str, dict[str, Any]]:
    """The one file that declares (not references) a resource of this type."""
    files = [(p, d) for p, d in bicep.items()
             if any(not r.get("existing") for r in resources(d, resource_type).values())]
    assert len(files) == 1, f"expected one file declaring {resource_type}, found {[p for p, _ in files]}"
    return files[0]


def accessor(value: Any) -> tuple[str, ...]:
    """a.b.c of a pycep property accessor, as ("a", "b", "c")."""
    if isinstance(value, str):
        return (value,)
    op = (value or {}).get("operator") or {}
    if op.get("type") != "property_accessor":
        return ()
    return accessor(op["operands"]["operand_1"]) + accessor(op["operands"]["operand_2"])


def strip_quotes(key: str) -> str:
    """pycep keeps the quotes of quoted object keys ('azd-env-name'); compare without them."""
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key


# ---------------------------------------------------------------------------------------------
# The function app's settings as the Bicep declares them


@dataclass(frozen=True)
class FunctionAppBicep:
    path: str  # e.g. "infra/modules/functionapp.bicep"
    document: dict[str, Any]
    site: dict[str, Any]  # the Microsoft.Web/sites resource
    module_params: dict[str, Any]  # what main.bicep passes to this module ({} if it is main.bicep)
    main: dict[str, Any]  # main.bicep


def function_app_bicep(bicep: dict[str, dict[str, Any]]) -> FunctionAppBicep:
    sites = [(path, doc, site) for path, doc in bicep.items()
             for site in resources(doc, "Microsoft.Web/sites").values() if not site.get("existing")]
    assert len(sites) == 1, f"expected one Microsoft.Web/sites in infra/, found {len(sites)}"
    path, document, site = sites[0]
    main = bicep["infra/main.bicep"]
    module_params: dict[str, Any] = {}
    if path != "infra/main.bicep":
        callers = [m for m in (main.get("modules") or {}).values()
                   if f"infra/{m['detail']['path']}" == path]
        assert len(callers) == 1, f"main.bicep must deploy {path} exactly once"
        module_params = callers[0]["config"].get("params") or {}
    return FunctionAppBicep(path, document, site, module_params, main)


def app_settings(app: FunctionAppBicep) -> dict[str, Any]:
    """name -> value expression (pycep JSON) of every app setting the Bicep gives the function app."""
    settings: dict[str, Any] = {}
    site_config = (app.site["config"].get("properties") or {}).get("siteConfig") or {}
    for entry in site_config.get("appSettings") or []:
        assert entry["name"] not in settings, f"app setting {entry['name']} is set twice"
        settings[entry["name"]] = entry["value"]
    for config in resources(app.document, "Microsoft.Web/sites/config").values():
        if config["config"].get("name") == "appsettings":
            for key, value in (config["config"].get("properties") or {}).items():
                assert strip_quotes(key) not in settings, f"app setting {strip_quotes(key)} is set twice"
                settings[strip_quotes(key)] = value
    return settings


def resolve_default(app: FunctionAppBicep, value: Any) -> str | None:
    """The value an app setting gets when azd passes no override, or None when Azure computes it.

    pycep writes a parameter reference and a string literal alike (`x` and 'x' are both "x"), so a
    string that names a parameter (or variable) in scope is taken as that parameter (or variable).
    """
    inner = _string_function_argument(value)
    if inner is not None:
        return resolve_default(app, inner)
    params = app.document.get("parameters") or {}
    if isinstance(value, str) and value in params:
        if value in app.module_params:  # main.bicep passes it
            return _main_value(app.main, app.module_params[value])
        return _as_text(params[value].get("default"))
    return _as_text(value)


def _main_value(main: dict[str, Any], value: Any) -> str | None:
    inner = _string_function_argument(value)
    if inner is not None:
        return _main_value(main, inner)
    if isinstance(value, str) and value in (main.get("parameters") or {}):
        return _as_text(main["parameters"][value].get("default"))
    if isinstance(value, str) and value in (main.get("variables") or {}):
        return _as_text(main["variables"][value].get("value"))
    return _as_text(value)


def _string_function_argument(value: Any) -> Any:
    """x for string(x), else None."""
    if isinstance(value, dict) and (value.get("function") or {}).get("type") == "string":
        return value["function"]["parameters"]["value_to_convert"]
    return None


def _as_text(value: Any) -> str | None:
    """An app setting's text for a literal; None for anything computed at deployment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and "${" not in value:
        return value
    return None


# ---------------------------------------------------------------------------------------------
# Conditions and computed values, evaluated for given parameter values


def evaluate(value: Any, scope: dict[str, Any]) -> Any:
    """The value of a pycep expression when the names in `scope` (parameters, variables) hold the given values.

    Knows literals, names, `!`, `?:`, `a.b` (kept as a reference: ("a", "b")), `filter` with its lambda and
    the functions the Bicep's conditions use; anything else raises, so a test never passes on an expression it
    did not evaluate. As in resolve_default, a string that names something in scope is taken as that name.
    """
    if isinstance(value, str):
        return scope[value] if value in scope else value
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    operator = value.get("operator") if isinstance(value, dict) else None
    if operator:
        operands = operator["operands"]
        if operator["type"] == "not":
            return not evaluate(operands["bool_value"], scope)
        if operator["type"] == "conditional":
            chosen = "true_value" if evaluate(operands["condition"], scope) else "false_value"
            return evaluate(operands[chosen], scope)
        if operator["type"] == "property_accessor":
            return accessor(value)
    function = value.get("function") if isinstance(value, dict) else None
    if function and function["type"] == "filter":  # filter(array, item => condition)
        lambda_args = function["parameters"]
        return [item for item in evaluate(lambda_args["input_array"], scope)
                if evaluate(lambda_args["expression"], scope | {lambda_args["input_element"]: item})]
    if function:
        args = {name: evaluate(arg, scope) for name, arg in function["parameters"].items()}
        if function["type"] in _FUNCTIONS:
            return _FUNCTIONS[function["type"]](**args)
    raise ValueError(f"cannot evaluate {value!r}")


_FUNCTIONS = {
    "empty": lambda item_to_test: len(item_to_test) == 0,
    "replace": lambda original_string, old_string, new_string: original_string.replace(old_string, new_string),
    "split": lambda input_string, delimiter: input_string.split(delimiter),
}
