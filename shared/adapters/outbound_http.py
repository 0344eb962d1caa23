"""Alert messages out to URLs that operators typed: the one HTTP client of the app that talks to places it does not
know, so it is built against server-side request forgery (OWASP's SSRF prevention cheat sheet).

- The URL must pass the channel URL rules (https; plain http only to loopback in local development).
- The host is resolved once; every address it resolves to must pass the address rules, or nothing is sent; the
  connection goes to an address that was checked, never through a second lookup (DNS rebinding) nor a proxy.
- TLS names the server by the URL's host (SNI and certificate check), and so does the Host header.
- No redirect is followed (a 3xx is a failed delivery that says so); connect and read time-outs are short; at most
  `max_body_bytes` of an answer are read, and never logged or kept.
"""
from __future__ import annotations

import http.client
import logging
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence

import requests

from shared.domain.alerts.channel_urls import ChannelUrl, check_channel_url, invalid_url, not_allowed, refused_range
from shared.domain.alerts.delivery_retry import OutcomeKind, SendOutcome, outcome_of_answer
from shared.domain.errors import InputError

from .http_sessions import ca_bundle

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
MAX_BODY_BYTES = 4096
USER_AGENT = "TenantAuthStatus-Alerts/1"

Resolver = Callable[[str, int], Sequence[str]]
Connector = Callable[[tuple[str, int], float], socket.socket]


class _Refused(Exception):
    def __init__(self, outcome: SendOutcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for a TCP connection, in the system's order of preference."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _connect(address: tuple[str, int], timeout: float) -> socket.socket:
    return socket.create_connection(address, timeout=timeout)


class OutboundHttp:
    """Posts alert messages (the AlertTransport port). `local_development` (storage is the local emulator) allows
    loopback addresses and plain http to them; `verify` is a CA bundle file (default: the environment's, as
    REQUESTS_CA_BUNDLE names it); `resolver` and `connect` are what tests replace."""

    def __init__(self, *, local_development: bool, resolver: Resolver = system_resolver,
                 connect: Connector = _connect, verify: str | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._local = local_development
        self._resolve, self._connect = resolver, connect
        self._connect_timeout, self._read_timeout, self._max_body = connect_timeout, read_timeout, max_body_bytes
        bundle = ca_bundle() if verify is None else verify  # True: none named, requests' own (certifi)
        self._tls = ssl.create_default_context(cafile=requests.certs.where() if bundle is True else str(bundle))
        self._tls.minimum_version = ssl.TLSVersion.TLSv1_2

    def check_destination(self, url: str) -> ChannelUrl:
        """`url` if alerts may be sent there now (its host resolved and every address allowed); else InputError
        (target `url`): what saving a channel answers with a 400."""
        target = check_channel_url(url, local_development=self._local)
        try:
            self._addresses(target)
        except _Refused as refused:
            if refused.outcome.kind is OutcomeKind.NOT_ALLOWED:
                raise not_allowed(refused.outcome.detail) from None
            raise invalid_url(refused.outcome.detail) from None
        return target

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        """POST `body` with `headers` to `url`: what came of it, never the answer's body."""
        try:
            target = check_channel_url(url, local_development=self._local)
            outcome = self._post(target, body, headers)
        except InputError as error:
            outcome = SendOutcome(OutcomeKind.NOT_ALLOWED, error.message)
        except _Refused as refused:
            outcome = refused.outcome
        logger.debug("Alert message: %s", outcome.kind)
        return outcome

    def _addresses(self, target: ChannelUrl) -> list[str]:
        """The addresses to try, each checked; _Refused when the host does not resolve or any address is refused."""
        if target.address is not None:
            addresses = [str(target.address)]
        else:
            try:
                addresses = list(self._resolve(target.host, target.port))
            except (OSError, UnicodeError):
                addresses = []
            if not addresses:
                raise _Refused(SendOutcome(OutcomeKind.UNREACHABLE, f"the host name {target.host} could not be "
                                                                    "resolved"))
        for address in addresses:
            refused = refused_range(address, local_development=self._local)
            if refused is not None:  # one bad address refuses the host: no mixing a public and a private answer
                raise _Refused(SendOutcome(OutcomeKind.NOT_ALLOWED, f"{target.host} resolves to {address}, a "
                                           f"{refused} address, which alerts may not reach"))
        return addresses

    def _post(self, target: ChannelUrl, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        connection = None
        for address in self._addresses(target):
            try:
                connection = self._connect((address, target.port), self._connect_timeout)
                break
            except OSError as error:
                logger.debug("Connecting to %s failed: %s", target.host, type(error).__name__)
        if connection is None:
            return SendOutcome(OutcomeKind.UNREACHABLE, f"could not connect to {target.host}")
        try:
            return self._exchange(connection, target, body, headers)
        except TimeoutError:
            return SendOutcome(OutcomeKind.UNREACHABLE, f"{target.host} did not answer within the time-out")
        except ssl.SSLCertVerificationError as error:
            return SendOutcome(OutcomeKind.UNREACHABLE, f"the TLS certificate of {target.host} was refused: "
                                                        f"{error.verify_message}")
        except ssl.SSLError:
            return SendOutcome(OutcomeKind.UNREACHABLE, f"the TLS handshake with {target.host} failed")
        except (OSError, http.client.HTTPException) as error:
            return SendOutcome(OutcomeKind.UNREACHABLE, f"the connection to {target.host} failed "
                                                        f"({type(error).__name__})")
        finally:
            connection.close()

    def _exchange(self, sock: socket.socket, target: ChannelUrl, body: bytes,
                  headers: Mapping[str, str]) -> SendOutcome:
        deadline = time.monotonic() + self._read_timeout
        sock.settimeout(self._read_timeout)
        if target.scheme == "https":
            sock = self._tls.wrap_socket(sock, server_hostname=target.host)
        exchange = http.client.HTTPConnection(target.host, target.port, timeout=self._read_timeout)
        exchange.sock = sock  # connected and checked: http.client must not connect (nor resolve) again
        try:
            exchange.putrequest("POST", target.target, skip_host=True, skip_accept_encoding=True)
            exchange.putheader("Host", target.host_header)
            exchange.putheader("User-Agent", USER_AGENT)
            for name, value in headers.items():
                exchange.putheader(name, value)
            exchange.putheader("Content-Length", str(len(body)))
            exchange.putheader("Connection", "close")
            exchange.endheaders(body)
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            response = exchange.getresponse()
            outcome = outcome_of_answer(response.status, retry_after=response.getheader("Retry-After"))
            try:  # a little of the answer is read, so a receiver that waits for that sees its answer taken; never kept
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                response.read(self._max_body)
            except (OSError, http.client.HTTPException):
                pass  # the status is the answer
            return outcome
        finally:
            exchange.close()
