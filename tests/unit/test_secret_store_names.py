"""Vault names for customer secrets: valid for Key Vault, stable, collision-free under its case folding."""
from __future__ import annotations

import base64
import random
import re
import string

import pytest

from shared.adapters.secret_store_names import store_name
from shared.domain.errors import InputError
from shared.domain.secrets import ProviderSecret, SecretKind

VAULT_NAME = re.compile(r"[0-9a-zA-Z-]{1,127}")
ID_ALPHABET = string.ascii_letters + string.digits + "._-"


def decode(name: str) -> tuple[str, str]:
    """Invert the scheme from the *case-folded* name, as the vault sees it: proves no two inputs share one."""
    prefix, encoded, kind = name.lower().split("-", 2)
    assert prefix == "tenant"
    padded = encoded.upper() + "=" * (-len(encoded) % 8)
    return base64.b32decode(padded).decode("utf-8"), kind


def test_name_is_the_documented_scheme() -> None:
    # A literal: changing the scheme would orphan every secret already stored under the old names.
    assert store_name("Contoso", SecretKind.PASSWORD) == "tenant-inxw45dponxq-password"
    assert store_name("Contoso", SecretKind.REFRESH_TOKEN) == "tenant-inxw45dponxq-refresh-token"
    assert store_name("Contoso", SecretKind.APPLICATION_SECRET) == "tenant-inxw45dponxq-app-secret"


def test_the_consent_flow_and_the_providers_secrets_have_the_documented_names() -> None:
    assert store_name("Contoso", SecretKind.CONSENT_FLOW) == "tenant-inxw45dponxq-consent-flow"
    assert store_name(None, ProviderSecret.CLIENT_SECRET) == "provider-client-secret"
    assert store_name(None, ProviderSecret.TOKEN_KEY) == "provider-token-key"


@pytest.mark.parametrize("kind", list(SecretKind))
@pytest.mark.parametrize("customer_id", ["a" * 64, "Z" * 64, "." * 63 + "x", "-_." * 21 + "x", "9" * 64])
def test_longest_ids_fit_the_vault_limit(customer_id: str, kind: SecretKind) -> None:
    name = store_name(customer_id, kind)
    assert VAULT_NAME.fullmatch(name), name
    assert len(name) <= 127


def test_every_kind_has_its_own_token() -> None:
    kinds = {decode(store_name("c", kind))[1] for kind in SecretKind}
    assert len(kinds) == len(SecretKind)


@pytest.mark.parametrize(
    "first, second",
    [
        ("Contoso", "contoso"),
        ("CONTOSO", "contoso"),
        ("a.b", "a_b"),
        ("a.b", "a-b"),
        ("a_b", "a-b"),
        ("ab", "ab."),
        ("a", "A"),
    ],
)
def test_ids_the_vault_would_confuse_get_different_names(first: str, second: str) -> None:
    for kind in SecretKind:
        assert store_name(first, kind).lower() != store_name(second, kind).lower()


def test_names_decode_back_to_their_customer_and_kind() -> None:
    rng = random.Random(20240601)
    ids = {"Contoso", "contoso", "a.b", "a_b", "a-b", "x" * 64}
    ids |= {"".join(rng.choice(ID_ALPHABET) for _ in range(rng.randint(1, 64))) for _ in range(500)}
    # Case variants of the same letters, the case the vault folds away.
    ids |= {cid.swapcase() for cid in list(ids)}
    tokens = {kind: decode(store_name("c", kind))[1] for kind in SecretKind}
    folded = set()
    for cid in ids:
        for kind in SecretKind:
            name = store_name(cid, kind)
            assert decode(name) == (cid, tokens[kind])
            folded.add(name.lower())
    assert len(folded) == len(ids) * len(SecretKind)


@pytest.mark.parametrize("customer_id", ["", "x" * 65, "a b", "a/b", "ü", "a\nb", "a+b"])
def test_ids_outside_the_contract_are_refused(customer_id: str) -> None:
    with pytest.raises(InputError) as caught:
        store_name(customer_id, SecretKind.PASSWORD)
    assert caught.value.code == "invalidCustomerId"
