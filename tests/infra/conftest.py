"""Shared fixtures of the infrastructure checks.

pycep and checkov live in .venv-infra (checkov pins its own dependencies), so these tests run them
through a subprocess: one pycep run and one checkov run per session, shared by every test.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .support import ROOT, TOOL_TIMEOUT_SECONDS, bicep_files, infra_tool, rel


def _run(args: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args, cwd=ROOT, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} did not finish within {TOOL_TIMEOUT_SECONDS} s", pytrace=False)


@pytest.fixture(scope="session")
def bicep_parse_results() -> dict[str, dict[str, Any]]:
    """{"infra/x.bicep": {"document": <pycep JSON>} or {"error": "<why>"}} for every .bicep file."""
    files = [rel(p) for p in bicep_files()]
    assert files, "infra/ holds no .bicep file"
    python = infra_tool("python")
    proc = _run([str(python), str(Path(__file__).with_name("bicep_dump.py")), *files], what="pycep")
    if proc.returncode != 0:
        pytest.fail(f"pycep helper failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def bicep(bicep_parse_results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The parsed documents, by path relative to the repo root; fails if any file does not parse."""
    errors = {path: r["error"] for path, r in bicep_parse_results.items() if "error" in r}
    if errors:
        pytest.fail("Bicep files pycep cannot parse:\n" + "\n".join(f"{p}: {e}" for p, e in errors.items()),
                    pytrace=False)
    return {path: r["document"] for path, r in bicep_parse_results.items()}


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    """checkov's JSON report for the bicep framework over infra/ (no skip list: skips must be inline)."""
    checkov = infra_tool("checkov")
    proc = _run(
        [str(checkov), "--framework", "bicep", "--directory", "infra", "--output", "json",
         "--skip-download", "--compact"],
        what="checkov",
    )
    # checkov exits 1 when a check fails, 0 otherwise; anything else, or no JSON, is a crash.
    if proc.returncode not in (0, 1):
        pytest.fail(f"checkov crashed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON:\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}",
                    pytrace=False)
    reports = report if isinstance(report, list) else [report]
    bicep_reports = [r for r in reports if r.get("check_type") == "bicep"]
    if len(bicep_reports) != 1:
        pytest.fail(f"checkov returned no bicep report: {json.dumps(report)[:2000]}", pytrace=False)
    return bicep_reports[0]


