"""Cold-start cost of `import function_app`, as a ratio to importing azure.functions alone.

Run: .venv/bin/python benchmarks/cold_import.py [--runs N]
Each sample is a fresh interpreter (what the Functions host pays on a cold start).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sample(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=REPO, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    baseline = [sample("import azure.functions") for _ in range(runs)]
    app = [sample("import function_app") for _ in range(runs)]
    empty = [sample("pass") for _ in range(runs)]
    b, a, e = statistics.median(baseline), statistics.median(app), statistics.median(empty)
    print(f"interpreter alone           median {e * 1000:7.1f} ms")
    print(f"import azure.functions      median {b * 1000:7.1f} ms")
    print(f"import function_app         median {a * 1000:7.1f} ms")
    print(f"ratio app / azure.functions (imports only): {(a - e) / max(b - e, 1e-9):.2f}")


if __name__ == "__main__":
    main()
