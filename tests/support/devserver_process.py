"""The local host (tools.devserver) run as a process over the sample function app, for its tests."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = "tests.support.sample_function_app"
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll until `probe` returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class DevServer:
    process: subprocess.Popen
    events_dir: Path
    out_lines: list[str] = field(default_factory=list)
    err_lines: list[str] = field(default_factory=list)
    base_url: str = ""

    @property
    def stdout(self) -> str:
        return "".join(self.out_lines)

    @property
    def stderr(self) -> str:
        return "".join(self.err_lines)

    def url(self, path: str) -> str:
        return self.base_url + path

    def events(self, function: str) -> list[dict[str, Any]]:
        path = self.events_dir / f"{function}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def _drain(stream: Any, sink: list[str]) -> None:
    for line in stream:
        sink.append(line)


def launch(tmp: Path, *, env: dict[str, str], settings: dict[str, str] | None = None,
           args: list[str] | None = None) -> DevServer:
    """Start the devserver on a free port (--port 0) and wait for its 'Listening on' line."""
    events = tmp / "events"
    events.mkdir(exist_ok=True)
    settings_path = tmp / "local.settings.json"
    if settings is not None:
        settings_path.write_text(json.dumps({"IsEncrypted": False, "Values": settings}))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SAMPLE_")}
    full_env.update({"SAMPLE_EVENTS_DIR": str(events), "PYTHONUNBUFFERED": "1", **env})
    command = [sys.executable, "-m", "tools.devserver", "--host", "127.0.0.1", "--port", "0",
               "--app", SAMPLE, "--settings", str(settings_path),
               "--startup-check", f"{SAMPLE}:startup_check", *(args or [])]
    process = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, encoding="utf-8")
    server = DevServer(process, events)
    threading.Thread(target=_drain, args=(process.stdout, server.out_lines), daemon=True).start()
    threading.Thread(target=_drain, args=(process.stderr, server.err_lines), daemon=True).start()
    return server


def wait_listening(server: DevServer, timeout: float = 60) -> DevServer:
    def listening() -> str | None:
        if server.process.poll() is not None:
            pytest.fail(f"devserver exited with {server.process.returncode}:\n{server.stderr[-3000:]}")
        found = re.search(r"Listening on (http://\S+)", server.stdout)
        return found.group(1) if found else None

    server.base_url = eventually(listening, timeout=timeout, what="the devserver to listen")
    return server


