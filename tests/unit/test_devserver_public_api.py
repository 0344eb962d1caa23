"""tools/ uses only the public API of azure.functions: its private modules (`_abc`, `_http`...) may change in
any release, and the local host must keep working with whatever version requirements.txt pins next."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
PACKAGE = "azure.functions"


def _private(dotted: str) -> bool:
    if not (dotted == PACKAGE or dotted.startswith(PACKAGE + ".")):
        return False
    return any(part.startswith("_") and not part.endswith("__") for part in dotted.split(".")[2:])


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def private_uses(source: str) -> list[str]:
    """Every private azure.functions name a module imports or reaches through an alias, as `line: name`."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> the module path it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                head = alias.name.split(".")[0]  # `import a.b` binds `a`
                aliases[alias.asname or head] = alias.name if alias.asname else head
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute) and (dotted := _dotted(node)):
            head, _, rest = dotted.partition(".")
            names = [f"{aliases[head]}.{rest}"] if head in aliases and rest else []
        found.update(f"{node.lineno}: {name}" for name in names if _private(name))
    return sorted(found)


@pytest.mark.parametrize("source", [
    "from azure.functions import _abc",
    "from azure.functions import _abc as azf_abc",
    "from azure.functions._http import HttpResponse",
    "import azure.functions._queue",
    "import azure.functions as func\nx = func._abc.Context",
    "import azure.functions\nx = azure.functions._http.HttpResponse",
    "from azure import functions\nx = functions._abc.TraceContext",
])
def test_the_scan_finds_each_way_of_reaching_a_private_module(source):
    assert private_uses(source)


@pytest.mark.parametrize("source", [
    "import azure.functions as func\nx = func.HttpResponse\ny = func.__version__",
    "from azure.functions.queue import QueueMessage",
    "from azure.functions.timer import TimerRequest",
    "import _thread\nfrom other import _abc",
])
def test_the_scan_lets_public_names_through(source):
    assert private_uses(source) == []


@pytest.mark.parametrize("path", sorted(TOOLS.glob("*.py")), ids=lambda p: p.name)
def test_tools_use_only_public_azure_functions_names(path):
    assert private_uses(path.read_text(encoding="utf-8")) == []
