"""`import function_app` stays light: the host imports it on every cold start."""
import subprocess
import sys
from pathlib import Path

HEAVY = ["azure.identity", "azure.data.tables", "azure.keyvault.secrets", "azure.storage.queue", "msal", "requests"]


def test_importing_the_app_loads_no_sdk_and_does_no_io():
    code = (
        "import socket, sys\n"
        "socket.socket.connect = lambda *a, **k: (_ for _ in ()).throw(AssertionError('network at import'))\n"
        "import function_app\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = {"PATH": "/usr/bin:/bin"}  # no settings at all: import must not read or need them
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"heavy modules imported at cold start: {result.stdout.strip()}"
