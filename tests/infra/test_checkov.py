"""checkov's Bicep checks over infra/: no parsing error, no failed check, every skip inline with a reason.

checkov exits 0 on a file it cannot parse, so its JSON is read instead of its exit code. It runs
with no skip list and no config file: the only way to skip a check is a
`// checkov:skip=CKV_ID: reason` comment inside the resource it concerns.
"""
from __future__ import annotations

import re
from typing import Any

from .support import ROOT, bicep_files

MIN_REASON_LENGTH = 20


def _results(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return (report.get("results") or {}).get(kind) or []


def test_no_checkov_config_file_skips_checks_outside_the_bicep() -> None:
    configs = [p for p in (ROOT / ".checkov.yaml", ROOT / ".checkov.yml", ROOT / "infra" / ".checkov.yaml",
                           ROOT / "infra" / ".checkov.yml") if p.exists()]
    assert not configs, f"skips belong inline in the Bicep, with their reason; remove {configs}"


def test_checkov_parses_every_file(checkov_report: dict[str, Any]) -> None:
    errors = checkov_report["summary"]["parsing_errors"]
    listed = (checkov_report.get("results") or {}).get("parsing_errors") or []
    assert errors == 0 and not listed, f"checkov could not parse: {listed}"


def test_checkov_scanned_resources(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["resource_count"] > 0 and summary["passed"] > 0, f"checkov checked nothing: {summary}"
    scanned = {r["file_path"].lstrip("/") for kind in ("passed_checks", "failed_checks", "skipped_checks")
               for r in _results(checkov_report, kind)}
    for must in ("modules/storage.bicep", "modules/keyvault.bicep", "modules/functionapp.bicep"):
        assert must in scanned, f"checkov ran no check on infra/{must}"


def test_checkov_reports_no_failed_check(checkov_report: dict[str, Any]) -> None:
    failed = [f"{r['check_id']} {r['resource']} ({r['file_path']}): {r['check_name']}"
              for r in _results(checkov_report, "failed_checks")]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)


def test_every_skip_is_inline_with_a_reason(checkov_report: dict[str, Any]) -> None:
    sources = {p.relative_to(ROOT / "infra").as_posix(): p.read_text(encoding="utf-8") for p in bicep_files()}
    problems = []
    for r in _results(checkov_report, "skipped_checks"):
        reason = (r["check_result"].get("suppress_comment") or "").strip()
        if len(reason) < MIN_REASON_LENGTH or reason == "No comment provided":
            problems.append(f"{r['check_id']} on {r['resource']}: no real reason ({reason!r})")
        source = sources.get(r["file_path"].lstrip("/"), "")
        if f"checkov:skip={r['check_id']}:" not in source:
            problems.append(f"{r['check_id']} on {r['resource']}: not skipped inline in {r['file_path']}")
    assert not problems, "\n".join(problems)


def test_every_inline_skip_is_used(checkov_report: dict[str, Any]) -> None:
    """A skip comment for a check that no longer fires is stale: remove it (or fix its id)."""
    used = {(r["file_path"].lstrip("/"), r["check_id"]) for r in _results(checkov_report, "skipped_checks")}
    declared = {(p.relative_to(ROOT / "infra").as_posix(), check_id)
                for p in bicep_files()
                for check_id in re.findall(r"checkov:skip=([A-Za-z0-9_]+)", p.read_text(encoding="utf-8"))}
    stale = sorted(declared - used)
    assert not stale, f"inline skips checkov did not use: {stale}"
