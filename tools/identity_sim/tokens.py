"""What the simulator hands out: HS256 JWTs, MSAL's client_info, opaque refresh tokens and codes, fingerprints.

Tokens are signed with a key that only the simulator holds (no JWKS): MSAL does not validate tokens, and
the app reads the claims of a token it was just handed over TLS. `decode_claims` reads them back for tests.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: dict[str, Any], *, key: bytes) -> str:
    header = {"typ": "JWT", "alg": "HS256", "kid": "identity-sim"}
    signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def verified_claims(token: str, *, key: bytes) -> dict[str, Any] | None:
    """The claims of a JWT this simulator signed with `key`; None for anything else (bad shape or signature)."""
    signing_input, _, signature = token.rpartition(".")
    expected = b64url(hmac.new(key, signing_input.encode("ascii", "replace"), hashlib.sha256).digest())
    if not signing_input or not hmac.compare_digest(expected.encode(), signature.encode("ascii", "replace")):
        return None
    try:
        claims = decode_claims(signing_input + ".")
    except (ValueError, IndexError):
        return None
    return claims if isinstance(claims, dict) else None


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (for tests and the app's own reading of a token it was just given)."""
    return json.loads(_b64url_decode(token.split(".")[1]))


def client_info(*, uid: str, utid: str) -> str:
    """MSAL's `client_info`: base64url of `{"uid", "utid"}`, which keys its token cache by account."""
    return b64url(json.dumps({"uid": uid, "utid": utid}).encode())


def opaque(prefix: str) -> str:
    """A fresh unguessable token (refresh token, authorization code)."""
    return f"{prefix}.{secrets.token_urlsafe(48)}"


def fingerprint(secret: str) -> str:
    """What the simulator keeps of a secret: a SHA-256 prefix, enough to tell two apart, never the value."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:24]


def pkce_s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())
