"""The rules import-linter cannot express: imports below the root "azure" of the namespace packages, and status
codes written below the edge.

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


# Below the edge: shared/ but its adapters, which speak HTTP to other services and read the statuses they answer.
BELOW_THE_EDGE = [p for p in sorted((ROOT / "shared").rglob("*.py")) if "adapters" not in p.relative_to(ROOT).parts]


def is_status_literal(node: ast.AST, low: int = 100) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and low <= node.value <= 599


def status_codes_written(source: str) -> list[tuple[int, str]]:
    """Where `source` writes an HTTP status: an int literal given to a keyword or parameter named *status*, or an
    int literal from 400 to 599 given to any call."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            found += [(node.lineno, f"{kw.arg}={kw.value.value}") for kw in node.keywords
                      if kw.arg and "status" in kw.arg.lower() and is_status_literal(kw.value)]
            found += [(node.lineno, str(arg.value)) for arg in node.args if is_status_literal(arg, 400)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            positional = arguments.posonlyargs + arguments.args
            pairs = [*zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults, strict=True),
                     *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)]
            found += [(node.lineno, f"{arg.arg}={default.value}") for arg, default in pairs
                      if default is not None and "status" in arg.arg.lower() and is_status_literal(default)]
    return found


def test_the_status_scan_sees_each_way_of_writing_a_status():
    assert status_codes_written("InputError('x', 'y', status=409)") == [(1, "status=409")]
    assert status_codes_written("ConsentOutcome(400, 'title')") == [(1, "400")]
    assert status_codes_written("def refused(why, *, status=503): pass") == [(1, "status=503")]
    assert status_codes_written("def f(status_code=200): pass") == [(1, "status_code=200")]
    assert status_codes_written("timedelta(seconds=500); range(3); first_line(text, 80)") == []
    assert BELOW_THE_EDGE and not any("adapters" in str(p) for p in BELOW_THE_EDGE)


def test_no_status_code_is_written_below_the_edge():
    """The domain and the use cases name kinds of outcome (shared/domain/errors.py, ConsentOutcomeKind);
    functions/http.py alone gives them status codes. (Importing `http` there is an import-linter contract.)"""
    offenders = [(str(path.relative_to(ROOT)), line, what) for path in BELOW_THE_EDGE
                 for line, what in status_codes_written(path.read_text(encoding="utf-8"))]
    assert offenders == []
