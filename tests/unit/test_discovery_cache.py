"""The MSAL adapter's discovery cache stays bounded: the least recently used document goes first, and an
expired one is never served."""
from __future__ import annotations

from shared.adapters import msal_platform
from shared.adapters.msal_platform import _DiscoveryCache, _Response


def doc(n: int) -> _Response:
    return _Response(200, f'{{"issuer": "{n}"}}', {"Content-Type": "application/json"})


def test_the_least_recently_used_document_goes_first(monkeypatch):
    monkeypatch.setattr(msal_platform, "DISCOVERY_ENTRIES", 3)
    cache = _DiscoveryCache()
    for n in range(3):
        cache.put(f"https://login/{n}", doc(n))
    assert cache.get("https://login/0").text == '{"issuer": "0"}'  # now the most recently used
    cache.put("https://login/3", doc(3))
    assert len(cache) == 3
    assert cache.get("https://login/1") is None  # the least recently used
    assert [cache.get(f"https://login/{n}") is not None for n in (0, 2, 3)] == [True, True, True]


def test_an_expired_document_is_dropped_not_served(monkeypatch):
    monkeypatch.setattr(msal_platform, "DISCOVERY_TTL", -1.0)
    cache = _DiscoveryCache()
    cache.put("https://login/0", doc(0))
    assert cache.get("https://login/0") is None and len(cache) == 0
