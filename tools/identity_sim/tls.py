"""The simulators' certificate authority: a trustme CA, its PEM, and a bundle that trusts it.

The bundle is the CAs this machine already trusts (REQUESTS_CA_BUNDLE, else certifi's, else the OS file)
plus the simulator's CA, so a process pointed at it (REQUESTS_CA_BUNDLE=<bundle>) keeps trusting every
real endpoint while trusting the simulator too: certificate checks stay on everywhere.
"""
from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

import trustme

logger = logging.getLogger(__name__)

_OS_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SERVER_NAMES = ("127.0.0.1", "localhost")


def system_ca_bundle() -> Path | None:
    """The CA file this process trusts today: REQUESTS_CA_BUNDLE, else certifi's, else the OS bundle."""
    configured = os.environ.get("REQUESTS_CA_BUNDLE")
    if configured and Path(configured).is_file():
        return Path(configured)
    try:
        import certifi
    except ImportError:  # requests brings certifi; without it the OS bundle is the next best thing
        certifi = None
    if certifi is not None and Path(certifi.where()).is_file():
        return Path(certifi.where())
    return _OS_BUNDLE if _OS_BUNDLE.is_file() else None


class SimulatorCA:
    """A fresh CA (`ca`) whose files live in `directory`: `ca_path` (this CA only) and `bundle_path` (system + this
    CA)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="Identity platform simulator")
        self.ca_path = self.directory / "identity-sim-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        system = system_ca_bundle()
        system_pem = system.read_bytes() if system is not None else b""
        if system_pem and not system_pem.endswith(b"\n"):
            system_pem += b"\n"
        if system is None:
            logger.warning("No system CA bundle found: the simulator's bundle trusts only the simulator")
        # Written whole, then renamed: a process reading the bundle never sees half a file.
        partial = self.directory / "identity-sim-ca-bundle.pem.partial"
        partial.write_bytes(system_pem + self.ca.cert_pem.bytes())
        self.bundle_path = self.directory / "identity-sim-ca-bundle.pem"
        partial.replace(self.bundle_path)

    def server_context(self, *hostnames: str) -> ssl.SSLContext:
        """A server-side TLS context with a certificate for `hostnames` (default 127.0.0.1 and localhost)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ca.issue_cert(*(hostnames or SERVER_NAMES)).configure_cert(context)
        return context
