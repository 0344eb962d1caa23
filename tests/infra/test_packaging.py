"""What azd does with this folder before it deploys it: `azd restore` runs `pip install .` (it prefers
pyproject.toml), and the deployment package leaves out what .funcignore names."""
from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

from .support import ROOT, TOOL_TIMEOUT_SECONDS

# Never part of a fresh clone: copying them would only slow the test down.
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", ".venv-*", "node_modules", ".local", "__pycache__",
                                        ".pytest_cache", "*.egg-info", "build", ".python_packages")


def _requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_pip_install_dot_resolves_to_the_app_dependencies(tmp_path: Path) -> None:
    """`pip install .` as `azd restore` runs it, on a copy of the folder (setuptools writes beside the sources):
    no "Multiple top-level packages discovered in a flat-layout", and what it installs is requirements.txt."""
    project = tmp_path / "app"
    shutil.copytree(ROOT, project, ignore=NOT_IN_A_CLONE)
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", ".", "--no-deps", "--dry-run", "--quiet",
         "--disable-pip-version-check", "--report", str(report)],
        cwd=project, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS, check=False,
    )
    assert proc.returncode == 0, f"pip install . fails:\n{proc.stderr[-4000:]}"
    (item,) = json.loads(report.read_text(encoding="utf-8"))["install"]
    assert item["metadata"]["name"] == "tenant-auth-status"
    assert sorted(item["metadata"].get("requires_dist") or []) == sorted(_requirements())


def _funcignore() -> list[str]:
    lines = (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """.funcignore follows .gitignore rules; these patterns use only names, `dir/` and `*`."""
    parts = path.split("/")
    for pattern in patterns:
        name = pattern.rstrip("/")
        for depth in range(len(parts)):
            is_dir = depth < len(parts) - 1
            if fnmatch.fnmatch(parts[depth], name) and (is_dir or not pattern.endswith("/")):
                return True
    return False


def test_the_deployment_package_leaves_out_local_packages_and_build_output() -> None:
    """`.python_packages/` holds packages installed on this machine (`func` puts them there): the remote build
    installs requirements.txt for Linux, and shipping both would let this machine's wheels win. pip's own
    output (`pip install .` by azd restore) stays out too."""
    patterns = _funcignore()
    for path in (".python_packages/lib/site-packages/msal/__init__.py", "tenant_auth_status.egg-info/PKG-INFO",
                 "build/lib/x.py", ".venv/bin/python", "tests/unit/test_runs.py", "local.settings.json"):
        assert _ignored(path, patterns), f".funcignore does not leave out {path}"
    for path in ("function_app.py", "host.json", "requirements.txt", "shared/usecases/runs.py",
                 "functions/verification.py", "page/index.html"):
        assert not _ignored(path, patterns), f".funcignore leaves out {path}, which the app needs"
