"""The import rules import-linter cannot express (it sees only the root "azure" of the namespace packages).

The other rules of the layers are import-linter contracts in pyproject.toml, run by `make test`.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def is_functions_runtime(module: str) -> bool:
    return module == "azure.functions" or module.startswith("azure.functions.")


def imported_modules(package: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found += [(str(path.relative_to(ROOT)), node.module)]
    return found


def test_the_scan_sees_imports():
    assert ("functions/health.py", "azure.functions") in imported_modules("functions")
    assert any(module.startswith("azure.data.tables") for _, module in imported_modules("shared"))


def test_shared_never_imports_the_functions_runtime():
    offenders = [(f, m) for f, m in imported_modules("shared") if is_functions_runtime(m)]
    assert offenders == []


def test_handlers_use_no_sdk_but_azure_functions():
    offenders = [
        (f, m) for f, m in imported_modules("functions")
        if m.split(".")[0] in {"azure", "msal"} and not is_functions_runtime(m)
    ]
    assert offenders == []


def test_the_readme_architecture_section_names_every_module_of_shared():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    modules = {p.stem for p in (ROOT / "shared").rglob("*.py") if p.stem != "__init__"}
    packages = {p.name for p in (ROOT / "shared").iterdir() if (p / "__init__.py").exists()}
    assert modules and packages
    assert sorted(name for name in modules | packages if name not in section) == []
