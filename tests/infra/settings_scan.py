"""Which settings the app reads, found in its source with `ast` (no import, so no side effects).

The convention this relies on (shared/config.py follows it; keep new code to it):

* the environment is read through `os.environ`, `os.getenv(...)`, or a mapping held in a variable
  or parameter named `env`, `environ` or `environment` (load_config takes `env: Mapping`);
* a setting's name is a string literal at the read:
  `env.get("X")`, `env["X"]`, `"X" in env`, `os.getenv("X")`, or a helper given the mapping and the
  name, such as `_get(env, "X")`;
* defaults live in a module-level dict named `DEFAULTS` (`{"X": "default", ...}`); a read with a
  non-empty literal fallback (`env.get("X", "d")`, `os.getenv("X", "d")`, `env.get("X") or "d"`)
  counts as a default too;
* the Functions host resolves `%X%` in trigger arguments (`schedule="%VERIFY_SCHEDULE%"`) and the
  `connection="X"` of a binding from app settings itself: those must be set in Azure, since no
  default in code reaches the host.

A read the scanner cannot see (a name built at run time) is a read the drift test cannot check;
`KNOWN_READS` in test_settings_drift.py fails loudly if the scanner stops seeing today's reads.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ENV_NAMES = frozenset({"env", "environ", "environment"})
HOST_EXPRESSION = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")


@dataclass
class SettingsUse:
    reads: set[str] = field(default_factory=set)  # settings the code looks up
    defaults: dict[str, str] = field(default_factory=dict)  # setting -> default in code
    host_references: set[str] = field(default_factory=set)  # %X% and connection="X": the host resolves them
    where: dict[str, str] = field(default_factory=dict)  # setting -> "file:line" of its first sighting

    def merge(self, other: SettingsUse) -> None:
        self.reads |= other.reads
        self.host_references |= other.host_references
        for key, value in other.defaults.items():
            self.defaults.setdefault(key, value)
        for key, value in other.where.items():
            self.where.setdefault(key, value)


def _is_env(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ENV_NAMES
    if isinstance(node, ast.Attribute):  # os.environ, self.env
        return node.attr in ENV_NAMES
    return False


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_getenv(func: ast.AST) -> bool:
    return (isinstance(func, ast.Name) and func.id == "getenv") or (
        isinstance(func, ast.Attribute) and func.attr == "getenv"
    )


class _Visitor(ast.NodeVisitor):
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.use = SettingsUse()

    def _read(self, name: str | None, node: ast.AST, default: str | None = None) -> None:
        if not name:
            return
        self.use.reads.add(name)
        self.use.where.setdefault(name, f"{self.filename}:{getattr(node, 'lineno', '?')}")
        if default:
            self.use.defaults.setdefault(name, default)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        first = node.args[0] if node.args else None
        fallback = _literal(node.args[1]) if len(node.args) > 1 else None
        if _is_getenv(func):
            self._read(_literal(first), node, fallback)
        elif isinstance(func, ast.Attribute) and func.attr in {"get", "pop", "setdefault"} and _is_env(func.value):
            self._read(_literal(first), node, fallback)
        else:
            # a helper handed the environment and a name: _get(env, "X")
            for i, arg in enumerate(node.args[:-1]):
                if _is_env(arg):
                    for later in node.args[i + 1:]:
                        self._read(_literal(later), node)
        for keyword in node.keywords:
            value = _literal(keyword.value)
            if keyword.arg == "connection" and value:
                self.use.host_references.add(value)
            elif value:  # a trigger's argument, such as schedule="%VERIFY_SCHEDULE%"
                self.use.host_references |= set(HOST_EXPRESSION.findall(value))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _is_env(node.value):
            self._read(_literal(node.slice), node)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)) and _is_env(node.comparators[0]):
            self._read(_literal(node.left), node)
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        # env.get("X") or "default"
        if isinstance(node.op, ast.Or) and len(node.values) >= 2:
            head, fallback = node.values[0], _literal(node.values[-1])
            if fallback and isinstance(head, ast.Call) and isinstance(head.func, ast.Attribute) \
                    and head.func.attr == "get" and (_is_env(head.func.value) or _is_getenv(head.func)):
                name = _literal(head.args[0]) if head.args else None
                if name:
                    self.use.defaults.setdefault(name, fallback)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._defaults_dict(node.targets, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._defaults_dict([node.target], node.value)
        self.generic_visit(node)

    def _defaults_dict(self, targets: list[ast.expr], value: ast.expr) -> None:
        if not any(isinstance(t, ast.Name) and t.id == "DEFAULTS" for t in targets):
            return
        if not isinstance(value, ast.Dict):
            raise ValueError(f"{self.filename}: DEFAULTS must be a dict literal for the drift test to read it")
        for key, val in zip(value.keys, value.values, strict=True):
            name = _literal(key)
            if name is None:
                raise ValueError(f"{self.filename}:{value.lineno}: every DEFAULTS key must be a string literal")
            self.use.defaults[name] = _literal(val) if _literal(val) is not None else ast.unparse(val)
            self.use.reads.add(name)
            self.use.where.setdefault(name, f"{self.filename}:{key.lineno}")


def scan_source(source: str, filename: str = "<source>") -> SettingsUse:
    visitor = _Visitor(filename)
    visitor.visit(ast.parse(source, filename=filename))
    return visitor.use


def scan_files(paths: Iterable[Path], root: Path) -> SettingsUse:
    use = SettingsUse()
    for path in sorted(paths):
        use.merge(scan_source(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix()))
    return use


def app_sources(root: Path) -> list[Path]:
    """The code that runs in Azure: function_app.py, shared/ and functions/ (not tools/ or tests/)."""
    found = [p for p in [root / "function_app.py"] if p.exists()]
    for folder in ("shared", "functions"):
        found += sorted((root / folder).rglob("*.py")) if (root / folder).is_dir() else []
    return found
