"""A throwaway certificate authority for the HTTPS simulators, and a CA bundle that trusts it.

The bundle holds the system CAs too, so pointing REQUESTS_CA_BUNDLE (or connection_verify) at it keeps
every real endpoint trusted while adding the simulators; certificate checks stay on everywhere.
"""
from __future__ import annotations

import os
import ssl
import threading
from pathlib import Path

import trustme

_SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def system_ca_bundle() -> Path | None:
    """The CA file this process trusts today: REQUESTS_CA_BUNDLE, else certifi's, else the OS bundle."""
    configured = os.environ.get("REQUESTS_CA_BUNDLE")
    if configured and Path(configured).is_file():
        return Path(configured)
    try:
        import certifi
    except ImportError:
        certifi = None
    if certifi is not None and Path(certifi.where()).is_file():
        return Path(certifi.where())
    return _SYSTEM_BUNDLE if _SYSTEM_BUNDLE.is_file() else None


class TestCA:
    """A trustme CA whose files live in `directory`.

    `ca_path` holds only this CA; `bundle_path` holds the system CAs plus this CA.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA()
        self.ca_path = self.directory / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        system = system_ca_bundle()
        system_pem = system.read_bytes() if system else b""
        if system_pem and not system_pem.endswith(b"\n"):
            system_pem += b"\n"
        self.bundle_path = self.directory / "ca-bundle.pem"
        self.bundle_path.write_bytes(system_pem + self.ca.cert_pem.bytes())
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def server_context(self, *hostnames: str) -> ssl.SSLContext:
        """A server-side TLS context with a certificate for hostnames (default 127.0.0.1 and localhost)."""
        names = hostnames or ("127.0.0.1", "localhost")
        with self._lock:
            if names not in self._contexts:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self.ca.issue_cert(*names).configure_cert(context)
                self._contexts[names] = context
            return self._contexts[names]
