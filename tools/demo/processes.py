"""The demo's processes: the identity platform simulator, the local host and the alert receiver, each reporting where
it listens."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _start(command: list[str], env: dict[str, str], log: Path, ready: re.Pattern[str], what: str,
           timeout: float = 60) -> tuple[subprocess.Popen, re.Match[str]]:
    """Start a process with its output going to `log` (and read for `ready`); the match of its ready line."""
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, encoding="utf-8")
    found: list[re.Match[str]] = []
    arrived = threading.Event()

    def copy() -> None:
        with log.open("a", encoding="utf-8") as sink:
            for line in process.stdout:
                sink.write(line)
                sink.flush()
                if not found and (match := ready.search(line)):
                    found.append(match)
                    arrived.set()
        arrived.set()

    threading.Thread(target=copy, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found and process.poll() is None and time.monotonic() < deadline:
        arrived.wait(timeout=0.2)
    if not found:
        process.kill()
        raise RuntimeError(f"{what} did not start; see {log}")
    return process, found[0]


def start_identity_simulator(ca_dir: Path, scenario: Path, log: Path) -> tuple[subprocess.Popen, dict]:
    process, match = _start(
        [sys.executable, "-m", "tools.identity_sim", "--port", "0", "--ca-dir", str(ca_dir), "--scenario",
         str(scenario)], {**os.environ, "PYTHONUNBUFFERED": "1"}, log, re.compile(r'^\{"authority_host".*\}$', re.M),
        "the identity platform simulator")
    return process, json.loads(match.group(0))


def start_local_host(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    process, match = _start(
        [sys.executable, "-m", "tools.devserver", "--host", "127.0.0.1", "--port", "0"],
        {**os.environ, "PYTHONUNBUFFERED": "1", **env}, log, re.compile(r"Listening on (http://\S+)"), "the local host")
    return process, match.group(1)


def start_alert_receiver(ca_dir: Path, log: Path) -> tuple[subprocess.Popen, dict]:
    process, match = _start([sys.executable, "-m", "tools.alert_receiver", "--ca-dir", str(ca_dir)],
                            {**os.environ, "PYTHONUNBUFFERED": "1"}, log, re.compile(r'^\{"https_url".*\}$', re.M),
                            "the alert receiver")
    return process, json.loads(match.group(0))
