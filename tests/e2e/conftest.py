"""The app as an operator runs it: tools.devserver over HTTP, real Azurite, the local secret store."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tools.azurite import start_azurite
from tools.identity_sim import IdentitySimulator
from tools.processes import stop_process

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    base_url: str
    log_path: Path
    secrets_file: Path
    connection_string: str
    process: subprocess.Popen

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_app(tmp: Path, connection_string: str, extra_env: dict[str, str] | None = None,
              args: list[str] | None = None) -> RunningApp:
    log_path = tmp / "devserver.log"
    secrets_file = tmp / "dev-secrets.json"
    env = {
        **os.environ,
        "AzureWebJobsStorage": connection_string,
        "KEY_VAULT_URL": "",
        "LOCAL_SECRETS_FILE": str(secrets_file),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    for _attempt in range(3):
        port = free_port()
        log = log_path.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.devserver", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "DEBUG", *(args or [])],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(base_url + "/api/health", timeout=2).status_code == 200:
                    return RunningApp(base_url, log_path, secrets_file, connection_string, process)
            except requests.ConnectionError:
                time.sleep(0.2)
        process.kill()
        process.wait()
    raise RuntimeError("the local host did not start:\n" + log_path.read_text(errors="replace")[-4000:])


@contextlib.contextmanager
def app_on_own_azurite(tmp: Path, extra_env: dict[str, str] | None = None,
                       args: list[str] | None = None) -> Iterator[RunningApp]:
    """The local host on an Azurite of its own (for tests that need an empty store, or change the host's
    configuration); both are stopped afterwards."""
    azurite = start_azurite()
    try:
        app = start_app(tmp, azurite.connection_string, extra_env, args)
        try:
            yield app
        finally:
            stop_process(app.process)
    finally:
        azurite.stop()


@pytest.fixture(scope="session")
def identity(tmp_path_factory) -> IdentitySimulator:
    """The identity platform the app verifies against (there is no emulator: a simulator over real HTTPS)."""
    with IdentitySimulator(ca_dir=tmp_path_factory.mktemp("identity")) as simulator:
        yield simulator


def identity_env(simulator: IdentitySimulator) -> dict[str, str]:
    return {"ENTRA_AUTHORITY_HOST": simulator.authority_host, "REQUESTS_CA_BUNDLE": str(simulator.ca_bundle_path)}


@pytest.fixture(scope="session")
def app(azurite, identity, tmp_path_factory) -> RunningApp:
    running = start_app(tmp_path_factory.mktemp("app"), azurite.connection_string, identity_env(identity))
    yield running
    stop_process(running.process)
