"""The app as an operator runs it: tools.devserver over HTTP, real Azurite, the local secret store."""
from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.devserver_process import REPO, LocalHost, start_local_host  # noqa: F401  (REPO: for test_demo)
from tools.azurite import start_azurite
from tools.identity_sim import IdentitySimulator
from tools.processes import stop_process


@dataclass
class RunningApp:
    host: LocalHost
    secrets_file: Path
    connection_string: str

    @property
    def process(self) -> subprocess.Popen:
        return self.host.process

    @property
    def base_url(self) -> str:
        return self.host.base_url

    def url(self, path: str) -> str:
        return self.host.url(path)

    def log_text(self) -> str:
        return self.host.log_text()

    def wait_for_log(self, text: str, *, timeout: float = 30) -> str:
        """The host's log once it holds `text` (a line written just after what the API already shows)."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log_text()):
            assert time.monotonic() < deadline, f"{text!r} never reached the host's log"
            time.sleep(0.2)
        return log


def start_app(tmp: Path, connection_string: str, extra_env: dict[str, str] | None = None,
              args: list[str] | None = None) -> RunningApp:
    """The app on the local host over this storage, with the local secret store; the verification timer does not
    fire unless `extra_env` sets VERIFY_SCHEDULE."""
    secrets_file = tmp / "dev-secrets.json"
    env = {"AzureWebJobsStorage": connection_string, "KEY_VAULT_URL": "", "LOCAL_SECRETS_FILE": str(secrets_file),
           "VERIFY_SCHEDULE": "0 0 0 1 1 *", **(extra_env or {})}
    return RunningApp(start_local_host(tmp, env, args=["--log-level", "DEBUG", *(args or [])]), secrets_file,
                      connection_string)


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
