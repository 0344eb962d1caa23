"""Where alerts may go: the URL rules (https; plain http only to loopback in local development) and the address
rules for every range the outbound client refuses, IPv6 and IPv4-embedding forms included."""
from __future__ import annotations

import pytest

from shared.domain.alerts.channel_urls import ChannelUrl, check_channel_url, refused_range
from shared.domain.errors import InputError

SECRET_PATH = "/workflows/0123abcd/triggers/manual/paths/invoke?api-version=1&sig=S3CRETsig"


def _refused(url: str, *, local: bool = False) -> InputError:
    with pytest.raises(InputError) as error:
        check_channel_url(url, local_development=local)
    assert error.value.target == "url"
    assert "S3CRET" not in error.value.message  # the URL's path and query may be its secret
    return error.value


def test_an_https_url_is_taken_apart():
    url = check_channel_url("https://Prod-01.WestEurope.logic.azure.com:443" + SECRET_PATH, local_development=False)
    assert url == ChannelUrl("https", "prod-01.westeurope.logic.azure.com", 443, SECRET_PATH)
    assert url.host_header == "prod-01.westeurope.logic.azure.com"
    assert url.address is None


def test_a_port_and_an_ipv6_host_are_kept_for_the_host_header():
    url = check_channel_url("https://[2606:4700::1111]:8443", local_development=False)
    assert (url.host, url.port, url.target, url.host_header) == ("2606:4700::1111", 8443, "/", "[2606:4700::1111]:8443")


@pytest.mark.parametrize("url", [
    None, "", 42, "hooks.example.com/x", "//hooks.example.com/x", "ftp://hooks.example.com/x",
    "https:///x", "https://user:pw@hooks.example.com/x", "https://hooks.example.com@evil.example/x",
    "https://hooks.example.com/x#frag", "https://hooks.example.com/x#", "https://hooks.example.com:0/x",
    "https://hooks.example.com:99999/x", "https://hooks.example.com:http/x", "https://hooks example.com/x",
    "https://hooks.exämple.com/x", "https://hooks.example.com/\u00e9", "https://hooks.example.com/x\n",
    "https://exa%6dple.com/x", "https://0x7f.1/x", "https://127.1/x", "https://[fe80::1%25eth0]/x",
    "https://hooks.example.com/" + "a" * 2048, "https://-bad-.example.com/x",
])
def test_what_is_no_absolute_https_url_is_invalid(url):
    assert _refused(url).code == "invalidChannelUrl"


@pytest.mark.parametrize("url", ["http://hooks.example.com" + SECRET_PATH, "http://8.8.8.8/x"])
def test_plain_http_is_refused(url):
    for local in (False, True):
        error = _refused(url, local=local)
        assert error.code == "invalidChannelUrl" and "https" in error.message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost:8080/hook", "http://[::1]/hook",
                                 "http://127.9.9.9/hook"])
def test_plain_http_to_loopback_only_in_local_development(url):
    assert check_channel_url(url, local_development=True).scheme == "http"
    assert _refused(url).code == "invalidChannelUrl"


@pytest.mark.parametrize("url", ["https://localhost/hook", "https://api.localhost/hook", "https://127.0.0.1/hook",
                                 "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook"])
def test_loopback_over_https_only_in_local_development(url):
    assert check_channel_url(url, local_development=True).scheme == "https"
    assert _refused(url).code == "channelUrlNotAllowed"


@pytest.mark.parametrize("host", ["10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254",
                                  "0.0.0.0", "224.0.0.1", "[fd00::1]", "[fe80::1]", "[::ffff:10.0.0.1]", "[::]",
                                  "[::ffff:169.254.169.254]", "[ff02::1]"])
def test_an_ip_host_in_a_refused_range_is_not_allowed_even_in_local_development(host):
    for local in (False, True):
        error = _refused(f"https://{host}/hook", local=local)
        assert error.code == "channelUrlNotAllowed"


REFUSED = {
    # private
    "10.0.0.1": "private", "10.255.255.255": "private", "172.16.0.1": "private", "172.31.255.254": "private",
    "192.168.0.1": "private", "192.168.255.255": "private",
    # shared address space (carrier-grade NAT)
    "100.64.0.1": "shared (carrier-grade NAT)", "100.127.255.254": "shared (carrier-grade NAT)",
    # loopback
    "127.0.0.1": "loopback", "127.255.255.254": "loopback", "::1": "loopback",
    # link-local, the metadata endpoint among them
    "169.254.0.1": "link-local", "169.254.169.254": "link-local", "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    # unique-local and site-local
    "fc00::1": "unique-local", "fd12:3456::1": "unique-local", "fec0::1": "reserved",
    # unspecified, multicast
    "0.0.0.0": "unspecified", "::": "unspecified", "224.0.0.1": "multicast", "239.255.255.250": "multicast",
    "ff02::1": "multicast", "ff0e::1": "multicast",
    # IPv6 forms of IPv4 addresses
    "::ffff:10.0.0.1": "private (embedded in IPv6)", "::ffff:127.0.0.1": "loopback (embedded in IPv6)",
    "::ffff:169.254.169.254": "link-local (embedded in IPv6)", "::ffff:100.64.0.1":
        "shared (carrier-grade NAT) (embedded in IPv6)", "::ffff:0.0.0.0": "unspecified (embedded in IPv6)",
    "64:ff9b::a9fe:a9fe": "link-local (embedded in IPv6)", "64:ff9b::c0a8:1": "private (embedded in IPv6)",
    "2002:a00:1::1": "private (embedded in IPv6)", "::a00:1": "IPv4-compatible", "64:ff9b:1::1": "reserved",
    "2001::1": "reserved",  # Teredo
    # other special-purpose ranges
    "0.1.2.3": "reserved", "192.0.2.1": "reserved", "198.18.0.1": "reserved", "240.0.0.1": "reserved",
    "255.255.255.255": "reserved", "2001:db8::1": "reserved",
}
ALLOWED = ["8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "52.96.1.1",
           "2606:4700:4700::1111", "2620:1ec:21::14", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize(("address", "kind"), sorted(REFUSED.items()))
def test_each_refused_range(address, kind):
    assert refused_range(address, local_development=False) == kind


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert refused_range(address, local_development=False) is None


@pytest.mark.parametrize(("address", "kind"), sorted(REFUSED.items()))
def test_local_development_allows_loopback_and_nothing_else(address, kind):
    expected = None if kind.startswith("loopback") else kind
    assert refused_range(address, local_development=True) == expected
