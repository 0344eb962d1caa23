"""The write rule for secrets a record uses, and the sweep, over in-memory fakes of the ports."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.errors import Conflict, DependencyUnavailable
from shared.domain.inputs import CustomerInput, ProviderSettingsInput
from shared.domain.models import AuthMethod
from shared.domain.secrets import ProviderSecret, SecretKind
from shared.usecases.customers import delete_customer, put_customer
from shared.usecases.provider_settings import put_settings
from shared.usecases.secret_sweep import GRACE, sweep_secrets

P = SecretKind.PASSWORD
GUID = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
CALLBACK = "https://tas.example.com/authenticate/OAuth2Callback"


def password(value: str) -> CustomerInput:
    return CustomerInput(tenant_id="contoso.com", authentication_method=AuthMethod.PASSWORD,
                         m365_email="admin@contoso.com", password=value)


def readable(services, customer_id, name=P) -> dict[str, str]:
    return {v: value for v, (value, _) in services.secrets.stored.get((customer_id, name), {}).items()}


def sweep(services, *, at: datetime) -> int:
    return sweep_secrets(services.customers, services.provider_settings, services.secrets, now=at).versions_retired


def age(services, customer_id, version, *, by: timedelta, name=P) -> None:
    """Make a stored version look written `by` earlier."""
    versions = services.secrets.stored[(customer_id, name)]
    value, at = versions[version]
    versions[version] = (value, at - by)


def test_a_new_password_replaces_the_old_version_which_the_sweep_retires_after_the_grace_period(services):
    first, _ = put_customer(services.customers, services.secrets, "c1", password("one"))
    age(services, "c1", first.secret_versions[P], by=timedelta(days=30))  # long in use before it was replaced
    second, _ = put_customer(services.customers, services.secrets, "c1", password("two"))
    assert first.secret_versions[P] != second.secret_versions[P]
    # Not at once: storage may yet lose the write that moved the record on, which would name "one" again.
    assert readable(services, "c1") == {first.secret_versions[P]: "one", second.secret_versions[P]: "two"}
    assert sweep(services, at=datetime.now(UTC) + GRACE - timedelta(minutes=1)) == 0
    assert sweep(services, at=datetime.now(UTC) + GRACE + timedelta(minutes=1)) == 1
    assert readable(services, "c1") == {second.secret_versions[P]: "two"}


def test_the_sweep_keeps_the_newest_version_for_a_record_that_names_a_missing_one(services):
    """Storage lost the write that moved the record to "two" after the sweep had retired "one": the record
    reads "two" (secret_writes.read_named), so the sweep must not take it, however old."""
    first, _ = put_customer(services.customers, services.secrets, "c1", password("one"))
    newer = services.secrets.create_version("c1", P, "two")
    services.secrets.retire_version("c1", P, first.secret_versions[P])
    age(services, "c1", newer, by=timedelta(days=30))
    assert sweep(services, at=datetime.now(UTC) + timedelta(days=1)) == 0
    assert readable(services, "c1") == {newer: "two"}


def test_a_writer_that_loses_the_record_race_leaves_no_trace(services):
    put_customer(services.customers, services.secrets, "c1", password("one"))

    class LateStore(type(services.customers)):
        """Another request updates the record between this request's read and its write."""

        def replace(self, previous, customer):
            winner = dataclasses.replace(self.customers[customer.customer_id], m365_email="winner@contoso.com")
            self.customers[customer.customer_id] = dataclasses.replace(winner, etag="W/winner")
            return super().replace(previous, customer)

    late = LateStore()
    late.customers = dict(services.customers.customers)
    with pytest.raises(Conflict):
        put_customer(late, services.secrets, "c1", password("loser"))
    record = late.customers["c1"]
    assert services.secrets.get("c1", P, record.secret_versions[P]) == "one"
    assert "loser" not in readable(services, "c1").values()  # its version was retired at once


def test_a_store_that_fails_on_retire_leaves_the_version_to_the_sweep(services, caplog):
    put_customer(services.customers, services.secrets, "c1", password("one"))
    retire = services.secrets.retire_version
    down = DependencyUnavailable("secretStoreUnavailable", "x")
    services.secrets.retire_version = lambda *a: (_ for _ in ()).throw(down)
    delete_customer(services.customers, services.history, services.secrets, "c1")  # still succeeds
    assert list(readable(services, "c1").values()) == ["one"]
    assert "the sweep will" in caplog.text and "one" not in caplog.text
    services.secrets.retire_version = retire
    assert sweep(services, at=datetime.now(UTC) + timedelta(hours=1)) == 1
    assert readable(services, "c1") == {}


def test_delete_takes_the_record_first_then_retires_its_versions(services):
    put_customer(services.customers, services.secrets, "c1", password("one"))
    delete_customer(services.customers, services.history, services.secrets, "c1")
    assert services.customers.get("c1") is None and readable(services, "c1") == {}


def test_the_sweep_leaves_young_versions_and_what_records_name(services):
    saved, _ = put_customer(services.customers, services.secrets, "c1", password("named"))
    services.secrets.create_version("c1", P, "stray-young")
    services.secrets.create_version("gone", P, "orphan")
    now = datetime.now(UTC)
    report = sweep_secrets(services.customers, services.provider_settings, services.secrets, now=now)
    assert report.versions_retired == 0
    report = sweep_secrets(services.customers, services.provider_settings, services.secrets,
                           now=now + timedelta(minutes=16))
    assert report.versions_retired == 2
    assert readable(services, "c1") == {saved.secret_versions[P]: "named"} and readable(services, "gone") == {}


def test_provider_settings_follow_the_same_rule(services):
    data = ProviderSettingsInput(client_id=GUID, redirect_url=CALLBACK, client_secret="s1")
    first = put_settings(services.provider_settings, services.secrets, data)
    kept = put_settings(services.provider_settings, services.secrets, dataclasses.replace(data, client_secret=None))
    assert kept.client_secret_version == first.client_secret_version
    second = put_settings(services.provider_settings, services.secrets, dataclasses.replace(data, client_secret="s2"))
    assert readable(services, None, ProviderSecret.CLIENT_SECRET) == {first.client_secret_version: "s1",
                                                                      second.client_secret_version: "s2"}
    sweep(services, at=datetime.now(UTC) + timedelta(hours=1))
    assert readable(services, None, ProviderSecret.CLIENT_SECRET) == {second.client_secret_version: "s2"}
