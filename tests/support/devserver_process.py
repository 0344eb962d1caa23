"""The one way tests start the local host (`python -m tools.devserver`): a process on a free port whose stdout
and stderr go to one log file, with its settings given here (the developer's local.settings.json is never read)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.sample_function_app import recorded

REPO = Path(__file__).resolve().parents[2]
SAMPLE = "tests.support.sample_function_app"
# The host's defaults for the sample app, but for a shorter idle poll: no visibilityTimeout.
SAMPLE_HOST_JSON = {"version": "2.0",
                    "extensions": {"http": {"routePrefix": ""}, "queues": {"maxPollingInterval": "00:00:01"}}}
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
class LocalHost:
    process: subprocess.Popen
    log_path: Path
    base_url: str = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Send `sig` (unless it exited) and wait for the exit status; SIGKILL after `timeout` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_local_host(tmp: Path, env: Mapping[str, str], *, app: str = "function_app", startup_check: str | None = None,
                     settings: Mapping[str, str] | None = None, args: Sequence[str] = (), inherit_env: bool = True,
                     wait: bool = True, timeout: float = 60) -> LocalHost:
    """Start the host on 127.0.0.1, a free port, with `env` (over this process's environment unless `inherit_env`
    is false) and `settings` as its local.settings.json Values; unless `wait` is false, wait until it listens."""
    tmp.mkdir(parents=True, exist_ok=True)
    settings_path = tmp / "local.settings.json"
    if settings is not None:
        settings_path.write_text(json.dumps({"IsEncrypted": False, "Values": dict(settings)}))
    command = [sys.executable, "-m", "tools.devserver", "--host", "127.0.0.1", "--port", "0", "--app", app,
               "--settings", str(settings_path), *(["--startup-check", startup_check] if startup_check else []),
               *args]
    log_path = tmp / "devserver.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                   env={**(os.environ if inherit_env else {}), "PYTHONUNBUFFERED": "1", **env})
    host = LocalHost(process, log_path)
    if wait:
        try:
            host.base_url = eventually(lambda: _listening(host), timeout=timeout, what="the local host to listen")
        except BaseException:
            host.stop(signal.SIGKILL)
            raise
    return host


def _listening(host: LocalHost) -> str | None:
    found = re.search(r"Listening on (http://\S+)", host.log_text())
    if found is None and host.process.poll() is not None:
        pytest.fail(f"the local host exited with {host.process.returncode}:\n{host.log_text()[-3000:]}")
    return found.group(1) if found else None


def start_sample(tmp: Path, env: Mapping[str, str], **options: Any) -> LocalHost:
    """The sample app (tests/support/sample_function_app.py) on the host, with a host.json and events folder of its
    own; its queue functions stay off unless `env` turns them on (AzureWebJobs.<name>.Disabled=false)."""
    (tmp / "events").mkdir(parents=True, exist_ok=True)
    (tmp / "host.json").write_text(json.dumps(SAMPLE_HOST_JSON))
    env = {"SAMPLE_EVENTS_DIR": str(tmp / "events"), "AzureWebJobs.consume.Disabled": "true",
           "AzureWebJobs.always_fails.Disabled": "true", **env}
    options.setdefault("settings", {"SAMPLE_TICK_SCHEDULE": "0 0 0 1 1 *"})
    args = ["--host-json", str(tmp / "host.json"), *options.pop("args", [])]
    return start_local_host(tmp, env, app=SAMPLE, startup_check=f"{SAMPLE}:startup_check", args=args, **options)


def sample_events(host: LocalHost, function: str) -> list[dict[str, Any]]:
    """What a sample function recorded so far."""
    return recorded(host.log_path.parent / "events", function)
