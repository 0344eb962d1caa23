"""Consent drift (a token customer's `scp` against CONSENT_SCOPES) and the password method's retirement notice
(shared/domain/expiry_consent.py)."""
from __future__ import annotations

import pytest

from shared.domain.expiry_consent import (
    GRAPH_APP_ID,
    PASSWORD_RETIREMENT,
    consent_drift,
    missing_scopes,
    retirement,
)
from shared.domain.models import AuthMethod
from shared.domain.reasons import Reason

GRAPH = "https://graph.microsoft.com"
DEFAULT = f"{GRAPH}/.default"


@pytest.mark.parametrize("scp", ["User.Read", "openid profile email User.Read Mail.Read"])
def test_default_is_satisfied_by_any_granted_scope(scp):
    assert missing_scopes([DEFAULT], scp=scp, audience=GRAPH) == ()


def test_default_with_nothing_granted_is_missing():
    assert missing_scopes([DEFAULT], scp="", audience=GRAPH) == (DEFAULT,)
    assert missing_scopes([DEFAULT], scp=None, audience=GRAPH) == (DEFAULT,)


def test_named_scopes_are_compared_without_regard_to_case():
    assert missing_scopes([f"{GRAPH}/User.Read.All", "mail.read"], scp="user.read.all Mail.Read",
                          audience=GRAPH) == ()


def test_each_named_scope_missing_is_named_as_configured():
    scopes = [f"{GRAPH}/User.Read.All", "Mail.Send", f"{GRAPH}/User.Read"]

    assert missing_scopes(scopes, scp="User.Read", audience=GRAPH) == (f"{GRAPH}/User.Read.All", "Mail.Send")


def test_sign_in_scopes_are_not_checked():
    assert missing_scopes(["openid", "profile", "email", "offline_access", DEFAULT], scp="User.Read",
                          audience=GRAPH) == ()


@pytest.mark.parametrize("audience", [GRAPH, f"{GRAPH}/", GRAPH_APP_ID, GRAPH.upper()])
def test_graph_is_recognised_by_its_uri_or_its_app_id(audience):
    assert missing_scopes([f"{GRAPH}/Mail.Read", "Sites.Read.All"], scp="User.Read", audience=audience) == (
        f"{GRAPH}/Mail.Read", "Sites.Read.All")


def test_a_scope_of_another_resource_cannot_be_checked_in_this_token():
    scopes = ["https://vault.azure.net/user_impersonation", "api://11111111-0000-4000-8000-000000000001/.default"]

    assert missing_scopes(scopes, scp="User.Read", audience=GRAPH) == ()


def test_a_token_for_another_resource_checks_that_resources_scopes():
    vault = "https://vault.azure.net"

    assert missing_scopes([f"{vault}/user_impersonation", "User.Read"], scp="", audience=vault) == (
        f"{vault}/user_impersonation",)


def test_drift_fails_with_missing_permissions_naming_the_scopes():
    found = consent_drift([DEFAULT, f"{GRAPH}/Mail.Read"], scp="User.Read", audience=GRAPH)

    assert found.reason is Reason.MISSING_PERMISSIONS and found.aadsts_code is None
    assert found.message == f"The token lacks the delegated permissions {GRAPH}/Mail.Read."
    assert f"{GRAPH}/Mail.Read" in found.hint and "Grant Consent" in found.hint


def test_no_drift_is_no_failure():
    assert consent_drift([DEFAULT], scp="User.Read", audience=GRAPH) is None


def test_only_the_password_method_is_being_retired():
    assert retirement(AuthMethod.PASSWORD) is PASSWORD_RETIREMENT
    assert retirement(AuthMethod.TOKEN) is None and retirement(AuthMethod.APPLICATION) is None
    assert "multi-factor" in PASSWORD_RETIREMENT.text and "Grant Consent" in PASSWORD_RETIREMENT.hint
    assert PASSWORD_RETIREMENT.reference.startswith("https://learn.microsoft.com/")
