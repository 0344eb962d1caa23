"""shared/adapters/function_key_probe.py over real HTTP: the host's answer decides, it is kept under a hash of the
key for the TTL, a wrong key is refused, and a host that cannot be asked is a 503 kind, never a yes."""
from __future__ import annotations

import pytest

from shared.adapters.function_key_probe import FunctionKeyProbe, probe_url
from shared.domain.errors import DependencyUnavailable
from tests.support.key_host import KeyHost

KEY = "host-key-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def host():
    with KeyHost(KEY) as running:
        yield running


def test_the_probe_url_is_the_apps_own_key_check_route():
    assert probe_url("tas-func.azurewebsites.net") == "https://tas-func.azurewebsites.net/api/keycheck"
    assert probe_url("localhost:7071") == "http://localhost:7071/api/keycheck"
    assert probe_url("127.0.0.1:8080") == "http://127.0.0.1:8080/api/keycheck"
    assert probe_url(None) is None and probe_url("evil.example/x?") is None


def test_a_valid_key_is_asked_once_per_ttl(host):
    clock = Clock()
    probe = FunctionKeyProbe(probe_url(host.hostname), ttl=300, clock=clock)
    try:
        assert probe.is_valid(KEY) and probe.is_valid(KEY)
        assert host.asked == [KEY]
        assert KEY not in repr(vars(probe)) and KEY.encode() not in b"".join(probe._answers)  # a hash only
        clock.now += 301
        assert probe.is_valid(KEY)
        assert host.asked == [KEY, KEY]
    finally:
        probe.close()


def test_a_wrong_key_is_refused_and_its_answer_kept_too(host):
    probe = FunctionKeyProbe(probe_url(host.hostname), clock=Clock())
    try:
        assert not probe.is_valid("not-the-key")
        assert not probe.is_valid("not-the-key")
        assert host.asked == ["not-the-key"]
        assert not probe.is_valid("x" * 600) and not probe.is_valid("bad\nkey")  # never sent
        assert host.asked == ["not-the-key"]
    finally:
        probe.close()


def test_a_host_that_cannot_be_asked_is_unavailable_and_nothing_is_kept():
    probe = FunctionKeyProbe("http://127.0.0.1:9/api/keycheck", timeout=2)  # nothing listens on port 9
    try:
        with pytest.raises(DependencyUnavailable):
            probe.is_valid(KEY)
        assert probe._answers == {}
    finally:
        probe.close()


def test_without_a_host_name_no_key_is_valid():
    assert not FunctionKeyProbe(None).is_valid(KEY)
