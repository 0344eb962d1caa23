"""Webhook signatures: HMAC-SHA256 known answers (RFC 4231 and one computed with `openssl dgst -sha256 -hmac`), the
headers a webhook carries, and the receiver's check (secret, body, timestamp, rotation)."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.alerts.signing import (
    SignatureProblem,
    check_signature,
    hmac_sha256_hex,
    new_signing_secret,
    signature,
    webhook_headers,
)

# RFC 4231, test cases 1, 2, 3 and 6 (HMAC-SHA-256).
RFC_4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLc1fcpmLk4nHq0w"
BODY = b'{"deliveryId":"d-1"}'
STAMP = 1_700_000_000
# printf '%s' '1700000000.{"deliveryId":"d-1"}' | openssl dgst -sha256 -hmac "$SECRET"
KNOWN = "sha256=c35f292a5794ccd26747cd495716f79eddc2937981778d31f79c7cc3e16bb2cb"
NOW = datetime.fromtimestamp(STAMP, UTC)


@pytest.mark.parametrize(("key", "data", "expected"), RFC_4231)
def test_hmac_sha256_known_answers(key, data, expected):
    assert hmac_sha256_hex(key, data) == expected


def test_the_signature_of_a_body_is_a_known_answer():
    assert signature(SECRET, timestamp=STAMP, body=BODY) == KNOWN


def test_the_headers_of_an_attempt():
    assert webhook_headers(delivery_id="d-1", secret=SECRET, body=BODY, timestamp=STAMP) == {
        "Content-Type": "application/json; charset=utf-8", "X-Delivery-Id": "d-1",
        "X-Signature-Timestamp": "1700000000", "X-Signature": KNOWN}


def _check(body: bytes = BODY, sig: str | None = KNOWN, stamp: str | None = str(STAMP),
           secrets: tuple[str, ...] = (SECRET,), now: datetime = NOW) -> SignatureProblem | None:
    return check_signature(body, signature_header=sig, timestamp_header=stamp, signing_secrets=secrets, now=now)


def test_a_receiver_accepts_the_signed_body():
    assert _check() is None
    assert _check(now=NOW + timedelta(minutes=5)) is None
    assert _check(now=NOW - timedelta(minutes=5)) is None


def test_a_changed_body_or_another_secret_is_a_mismatch():
    assert _check(body=BODY + b" ") is SignatureProblem.MISMATCH
    assert _check(body=BODY.replace(b"d-1", b"d-2")) is SignatureProblem.MISMATCH
    assert _check(secrets=("whsec_other",)) is SignatureProblem.MISMATCH
    assert _check(secrets=()) is SignatureProblem.MISMATCH
    assert _check(sig=KNOWN.upper()) is SignatureProblem.MISMATCH
    assert _check(sig=KNOWN.removeprefix("sha256=")) is SignatureProblem.MISMATCH


def test_a_timestamp_is_signed_too():
    assert _check(stamp=str(STAMP + 1), now=NOW) is SignatureProblem.MISMATCH


@pytest.mark.parametrize("stamp", [str(STAMP - 301), str(STAMP + 301), "0", "-1", "17e8", " ", "9" * 40])
def test_an_old_future_or_unreadable_timestamp_is_stale(stamp):
    assert _check(stamp=stamp) is SignatureProblem.STALE


def test_missing_headers():
    for missing in (None, ""):
        assert _check(sig=missing) is SignatureProblem.MISSING
        assert _check(stamp=missing) is SignatureProblem.MISSING


def test_while_rotating_either_secret_and_either_signature_verifies():
    new = "whsec_new"
    assert _check(secrets=(new, SECRET)) is None
    both = f"{signature(new, timestamp=STAMP, body=BODY)}, {KNOWN}"
    assert _check(sig=both, secrets=(SECRET,)) is None
    assert _check(sig=both, secrets=(new,)) is None
    assert _check(sig="sha256=\u00e9, " + KNOWN) is None


def test_signing_secrets_are_256_random_bits_with_a_prefix():
    assert new_signing_secret(token_bytes=lambda n: bytes(range(n))) == \
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    made = {new_signing_secret() for _ in range(20)}
    assert len(made) == 20 and all(s.startswith("whsec_") and len(s) == 6 + 43 for s in made)


def test_the_receivers_guide_verifies_what_the_app_signs():
    """docs/alerts-webhook.md shows receivers how to verify; its code must accept our signature and nothing else."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "alerts-webhook.md").read_text(encoding="utf-8")
    code = guide.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "alerts-webhook.md", "exec"), scope)
    stamp = int(time.time())
    headers = webhook_headers(delivery_id="d-1", secret=SECRET, body=BODY, timestamp=stamp)
    verified = scope["verified"]
    assert verified(SECRET, BODY, headers["X-Signature-Timestamp"], headers["X-Signature"])
    assert not verified("whsec_other", BODY, headers["X-Signature-Timestamp"], headers["X-Signature"])
    assert not verified(SECRET, BODY + b" ", headers["X-Signature-Timestamp"], headers["X-Signature"])
    assert not verified(SECRET, BODY, str(stamp - 600), signature(SECRET, timestamp=stamp - 600, body=BODY))
