"""Who the client is and whether it proved it: HTTP Basic (what MSAL sends), or client_secret /
client_assertion in the body. Answers the AADSTS code of a failure, as the service would."""
from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote_plus

from tools.identity_sim.directory import AppRegistration


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str | None
    secret: str | None = field(default=None, repr=False)
    assertion: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str | None:
        """How the client authenticated ("secret" | "assertion"), for the recording: never the value."""
        return "secret" if self.secret else "assertion" if self.assertion else None


def read_client(form: Mapping[str, str], headers: Mapping[str, str]) -> ClientCredentials:
    """MSAL puts a client secret in `Authorization: Basic base64(quote_plus(id):quote_plus(secret))`
    (RFC 6749 section 2.3.1); other clients put it in the body. Both are read."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    authorization = headers.get("Authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        basic_id, sep, basic_secret = decoded.partition(":")
        if sep:
            client_id, secret = unquote_plus(basic_id), unquote_plus(basic_secret)
    return ClientCredentials(client_id, secret, form.get("client_assertion"))


def authentication_failure(
    app: AppRegistration, client: ClientCredentials, *, now: datetime | None = None,
) -> int | None:
    """None when `client` holds a secret of `app` current at `now`; else the AADSTS code the service answers.

    A client_assertion is compared like a secret (the simulator does not check certificate signatures):
    register the assertion string the test will send as one of the app's secrets.
    """
    presented = client.secret or client.assertion
    if not presented:
        return 7000218
    for registered in app.secrets:
        if hmac.compare_digest(registered.value.encode(), presented.encode()):
            return 7000222 if registered.expired(now) else None
    return 7000215 if client.secret else 700027
