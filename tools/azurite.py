"""Start a real Azurite (from node_modules) on free ports, its data in a temporary folder (tests, demo, bench).

By default it serves plain HTTP with shared-key auth. Given a certificate and key it serves HTTPS; with
`oauth=True` as well it also accepts Entra ID bearer tokens (`--oauth basic`: Azurite decodes the JWT and
checks its lifetime, issuer and audience, not its signature). Shared-key access keeps working either way.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from shared.config import AZURITE_ACCOUNT, AZURITE_KEY
from tools.processes import stop_process

REPO = Path(__file__).resolve().parents[1]
AZURITE_BIN = REPO / "node_modules" / ".bin" / "azurite"
_LISTENING = re.compile(
    r"Azurite (Blob|Queue|Table) service is successfully listening at (https?)://127\.0\.0\.1:(\d+)"
)


@dataclass
class Azurite:
    process: subprocess.Popen
    location: str
    blob_port: int
    queue_port: int
    table_port: int
    scheme: str = "http"  # "https" when started with a certificate

    @property
    def connection_string(self) -> str:
        base = f"{self.scheme}://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol={self.scheme};AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={base}:{self.blob_port}/{AZURITE_ACCOUNT};"
            f"QueueEndpoint={base}:{self.queue_port}/{AZURITE_ACCOUNT};"
            f"TableEndpoint={base}:{self.table_port}/{AZURITE_ACCOUNT};"
        )

    @property
    def table_endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.table_port}/{AZURITE_ACCOUNT}"

    @property
    def queue_endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.queue_port}/{AZURITE_ACCOUNT}"

    def stop(self) -> None:
        stop_process(self.process)
        shutil.rmtree(self.location, ignore_errors=True)


def start_azurite(
    *,
    timeout: float = 60.0,
    cert_path: str | Path | None = None,
    key_path: str | Path | None = None,
    oauth: bool = False,
) -> Azurite:
    """Start Azurite; `cert_path` + `key_path` (PEM) serve HTTPS; `oauth` accepts bearer tokens as well."""
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"{AZURITE_BIN} is missing: run `make test` (it runs `npm ci`).")
    if (cert_path is None) != (key_path is None):
        raise ValueError("HTTPS needs both cert_path and key_path.")
    if oauth and cert_path is None:
        raise ValueError("Azurite accepts OAuth only over HTTPS: pass cert_path and key_path.")
    scheme = "http" if cert_path is None else "https"
    options = [] if cert_path is None else ["--cert", str(cert_path), "--key", str(key_path)]
    if oauth:
        options += ["--oauth", "basic"]
    location = tempfile.mkdtemp(prefix="azurite-")
    log_path = Path(location) / "azurite.log"
    # Port 0: Azurite binds free ports and prints which; reading them avoids any race for a port.
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(AZURITE_BIN), "--location", location, "--skipApiVersionCheck", "--disableTelemetry", "--loose",
             "--blobPort", "0", "--queuePort", "0", "--tablePort", "0", *options],
            stdout=log, stderr=subprocess.STDOUT, cwd=location,
        )
    deadline = time.monotonic() + timeout
    while len(listening := _LISTENING.findall(log_path.read_text(errors="replace"))) < 3:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            said = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Azurite did not start (exit code {process.wait()}):\n{said}")
        time.sleep(0.05)
    if any(found_scheme != scheme for _, found_scheme, _ in listening):
        process.kill()
        raise RuntimeError(f"Azurite does not listen with {scheme}.")
    ports = {service: int(port) for service, _, port in listening}
    return Azurite(process, location, ports["Blob"], ports["Queue"], ports["Table"], scheme)
