"""Where a channel may send: the URL rules (checked when a channel is saved) and the address rules (checked on every
address the URL's host resolves to, just before connecting: OWASP's SSRF prevention).

`https` only; plain `http` only to loopback while storage is the local emulator (local development). No address in
a private, shared (carrier-grade NAT), loopback (outside local development), link-local (the cloud metadata endpoint
169.254.169.254 among them), unique-local, multicast, unspecified or otherwise reserved range, nor an IPv6 form
that embeds such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import InputError
from ..rules import is_url_host

MAX_URL_CHARS = 2048
INVALID_CHANNEL_URL = "invalidChannelUrl"
CHANNEL_URL_NOT_ALLOWED = "channelUrlNotAllowed"

_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not "private" to ipaddress, never public
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the last 32 bits are an IPv4 address
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_RESERVED_V6 = (ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64: translated inside one network
                ipaddress.ip_network("fec0::/10"))  # site-local, deprecated: never public
_DEFAULT_PORTS = {"https": 443, "http": 80}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class ChannelUrl:
    """A URL the rules accept, taken apart for a client that connects to an address it checked itself."""

    scheme: str  # "https", or "http" to loopback in local development
    host: str  # lower case; an IPv6 address without brackets
    port: int
    target: str  # path and query, as the request line carries them

    @property
    def host_header(self) -> str:
        """The Host header (and what TLS names the server by): the URL's host, with its port when not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def address(self) -> IPAddress | None:
        """The host when it is an IP address (then nothing is resolved), else None."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def invalid_url(message: str) -> InputError:
    return InputError(INVALID_CHANNEL_URL, message, target="url")


def not_allowed(message: str) -> InputError:
    return InputError(CHANNEL_URL_NOT_ALLOWED, message, target="url")


def check_channel_url(url: object, *, local_development: bool) -> ChannelUrl:
    """`url` taken apart, or InputError (target `url`); messages name the host at most, never the path or query,
    which may carry the URL's own secret. `local_development` (storage is the local emulator) allows loopback."""
    if not isinstance(url, str) or not url:
        raise invalid_url("url must be an absolute https URL.")
    if len(url) > MAX_URL_CHARS or not url.isascii() or not url.isprintable() or " " in url:
        raise invalid_url(f"url must be an absolute https URL of at most {MAX_URL_CHARS} characters, without "
                          "spaces or characters outside ASCII (encode them with %XX).")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise invalid_url("url must be an absolute https URL.")
    if "@" in parts.netloc:
        raise invalid_url("url must not carry a user name or password.")
    if parts.fragment or url.endswith("#"):
        raise invalid_url("url must not have a fragment (#...).")
    host = parts.hostname or ""
    typed = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = 0
    if not is_url_host(typed) or port == 0 or typed.lower() not in parts.netloc.lower():
        raise invalid_url("url must have a valid host (a DNS name or an IP address) and, if any, a port from 1 "
                          "to 65535.")
    loopback_name = host == "localhost" or host.endswith(".localhost")
    try:
        address: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    is_loopback = loopback_name or (address is not None and address.is_loopback)
    if scheme == "http" and not (local_development and is_loopback):
        raise invalid_url("url must be an https URL (plain http only to this machine in local development).")
    if loopback_name and not local_development:
        raise not_allowed(f"url's host {host} is this machine, which alerts may not reach.")
    if address is not None:
        refused = refused_range(address, local_development=local_development)
        if refused is not None:
            raise not_allowed(f"url's host {host} is a {refused} address, which alerts may not reach.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return ChannelUrl(scheme=scheme, host=host, port=port or _DEFAULT_PORTS[scheme], target=target)


def refused_range(address: str | IPAddress, *, local_development: bool) -> str | None:
    """None when alerts may be sent to `address`, else the kind of range it lies in ("private", "loopback", ...).
    `local_development` allows loopback, and only loopback."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            refused = refused_range(embedded, local_development=local_development)
            return None if refused is None else f"{refused} (embedded in IPv6)"
        if ip in _IPV4_COMPATIBLE and not (ip.is_unspecified or ip.is_loopback):
            return "IPv4-compatible"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return None if local_development else "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _UNIQUE_LOCAL:
            return "unique-local"
        if any(ip in network for network in _RESERVED_V6):
            return "reserved"
    if any(ip in network for network in _PRIVATE):
        return "private"
    if not ip.is_global:  # what else IANA's special-purpose registries reserve (documentation, benchmarking, ...)
        return "reserved"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for on the way out: IPv4-mapped, NAT64 or 6to4. (Teredo, 2001::/32,
    is refused whole as not global.)"""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour
