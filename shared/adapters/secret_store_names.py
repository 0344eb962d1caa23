"""Where each secret lives: the one naming rule shared by the Key Vault and the local secret stores."""
from __future__ import annotations

import base64

from ..domain.errors import invalid_customer_id
from ..domain.rules import is_customer_id
from ..domain.secrets import AnySecret, ChannelSecret, ProviderSecret, SecretKind

# Fixed per kind; never derived from the enum value, so renaming a SecretKind cannot orphan stored secrets.
_KIND_TOKEN: dict[SecretKind, str] = {
    SecretKind.PASSWORD: "password",
    SecretKind.REFRESH_TOKEN: "refresh-token",
    SecretKind.APPLICATION_SECRET: "app-secret",
    SecretKind.CONSENT_FLOW: "consent-flow",
}
_PROVIDER_KIND_TOKEN: dict[ProviderSecret, str] = {
    ProviderSecret.CLIENT_SECRET: "client-secret",
    ProviderSecret.TOKEN_KEY: "token-key",
}
_CHANNEL_KIND_TOKEN: dict[ChannelSecret, str] = {
    ChannelSecret.URL: "url",
    ChannelSecret.SIGNING_SECRET: "signing-secret",
}
_OWNER_TOKENS: dict[str, dict] = {"tenant": _KIND_TOKEN, "channel": _CHANNEL_KIND_TOKEN}


def store_name(customer_id: str | None, kind: AnySecret) -> str:
    """The vault name of a secret: `provider-<kind>` for the provider's own (customer_id None),
    `channel-<base32 of the channelId>-<kind>` for an alert channel's (a ChannelSecret), else
    `tenant-<base32 of the customerId>-<kind>`; the prefixes can never meet.

    Key Vault names are case-insensitive and allow only `0-9a-zA-Z-`, while customer ids are case-sensitive
    and may hold `._`. Lower-case base32 (no padding) is injective, fits that alphabet and never contains `-`,
    so distinct (customerId, kind) pairs can never share a name; a 64-character id gives 124 characters.
    """
    if customer_id is None:
        return f"provider-{_PROVIDER_KIND_TOKEN[ProviderSecret(kind)]}"
    if not is_customer_id(customer_id):
        raise invalid_customer_id()
    encoded = base64.b32encode(customer_id.encode("utf-8")).decode("ascii").rstrip("=").lower()
    if isinstance(kind, ChannelSecret):
        return f"channel-{encoded}-{_CHANNEL_KIND_TOKEN[kind]}"
    return f"tenant-{encoded}-{_KIND_TOKEN[SecretKind(kind)]}"


def owner_of(key: str) -> tuple[str | None, str] | None:
    """The (customer_id or None for the provider, kind value) a vault name stands for (for a channel's secret: its
    channelId and a ChannelSecret value); None for a name this app does not make. The inverse of secret_name."""
    prefix, _, rest = key.lower().partition("-")
    if prefix == "provider":
        kinds = {token: kind for kind, token in _PROVIDER_KIND_TOKEN.items()}
        return (None, kinds[rest].value) if rest in kinds else None
    if prefix not in _OWNER_TOKENS:
        return None
    encoded, _, token = rest.partition("-")
    kinds = {token: kind for kind, token in _OWNER_TOKENS[prefix].items()}
    if token not in kinds or not encoded:
        return None
    try:
        customer_id = base64.b32decode(encoded.upper() + "=" * (-len(encoded) % 8)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if not is_customer_id(customer_id) or store_name(customer_id, kinds[token]) != key.lower():
        return None
    return customer_id, kinds[token].value
