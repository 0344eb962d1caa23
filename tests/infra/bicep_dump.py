"""Parse Bicep files with pycep and print one JSON document: {path: {"document": ...} | {"error": ...}}.

Runs under the .venv-infra interpreter (pycep comes with checkov, which pins its own dependencies),
so the tests in this folder call it through a subprocess instead of importing it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(paths: list[str]) -> int:
    from pycep import BicepParser

    parser = BicepParser()
    out: dict[str, dict[str, object]] = {}
    for raw in paths:
        try:
            out[raw] = {"document": parser.parse(file_path=Path(raw))}
        except Exception as exc:  # noqa: BLE001 - every parse failure is reported, whatever its type
            out[raw] = {"error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
    json.dump(out, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
