"""`make demo` keeps working: it starts everything, verifies every customer and prints the table."""
import subprocess
import sys

import pytest

from tests.e2e.conftest import REPO

pytestmark = pytest.mark.e2e


def test_the_demo_verifies_its_customers_and_prints_their_status():
    done = subprocess.run([sys.executable, "-m", "tools.demo"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "14/14  verified" in out and "14 customers: 4 OK, 10 FAILED" in out
    assert "Consent granted" in out or "granted consent for customer relecloud" in out
    for reason in ("mfaRequired", "invalidCredentials", "accountLocked", "blockedByPolicy", "tokenRevoked",
                   "tokenExpired", "missingPermissions", "clientSecretExpired", "tenantNotFound", "notConfigured"):
        assert reason in out
    # Foresight: a secret that ends in 5 days, a relationship that cannot auto-extend, the provider's secret line.
    assert "woodgrove: client secret ends in 5 days" in out
    assert "contoso: delegated admin relationship ends in 12 days" in out and "holds Global Administrator" in out
    assert "provider's client secret expires in 45 days" in out
    assert "Demo-Contoso-Pass-1" not in out and "demo-rt-litware" not in out  # no secret in what it prints
    # A lost and a restored connection reach the local alert receiver, on both channels, once each.
    assert "-> ops (webhook, signed" in out and "1 lost: margie lost (blockedByPolicy)" in out
    assert "1 restored: margie restored" in out
    assert '-> team (Teams card): "Tenant Auth Status: 1 connection lost"' in out
    assert '-> team (Teams card): "Tenant Auth Status: 1 connection restored"' in out
    assert "whsec_" not in out
