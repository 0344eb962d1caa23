"""The contract's rules for identifiers and limits, in one place for the edge and the adapters alike."""
from __future__ import annotations

import ipaddress
import re
import uuid

# The most customers one listing holds (also the most Table Storage returns for one request).
MAX_TOP = 1000
# Records written together (CustomerStore.replace_many, RunStore.complete_many): one Table Storage transaction
# holds at most 100 operations, and a count shard goes with them.
MAX_BATCH = 50
# Results recorded together (CustomerStore.replace_many): each takes its record and a history row in the
# transaction, beside the outbox rows of their events and a count shard.
RESULTS_PER_WRITE = 25
# Results kept per customer (the contract's "history": the latest 20, newest first).
HISTORY_KEPT = 20
# The consent callback's path: the Redirect URL must end exactly so.
CALLBACK_PATH = "/authenticate/OAuth2Callback"

# Not only dots: URL normalisation removes "." and ".." path segments, so no HTTP client could address them.
_CUSTOMER_ID = re.compile(r"(?!\.+\Z)[A-Za-z0-9._-]{1,64}")
_DOMAIN_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
# A last label that URL parsers read as a number (decimal or 0x hex): the host is then an IPv4 address or bad.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


def is_customer_id(value: str | None) -> bool:
    return value is not None and _CUSTOMER_ID.fullmatch(value) is not None


def is_guid(value: str) -> bool:
    try:
        return len(value) == 36 and value.isascii() and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def is_domain(value: str) -> bool:
    # ASCII first: lower() folds some other letters into ASCII ones (the Kelvin sign U+212A into "k").
    if not 3 <= len(value) <= 253 or not value.isascii():
        return False
    labels = value.lower().split(".")
    return (
        len(labels) >= 2
        and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        and labels[-1].isalpha()
        and len(labels[-1]) >= 2
    )


def is_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return (
        bool(at)
        and value.isascii()
        and len(value) <= 254
        and bool(_EMAIL_LOCAL.fullmatch(local))
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and is_domain(domain)
    )


def is_url_host(value: str) -> bool:
    """A URL's host as typed: a DNS name of letters, digits and hyphens (IDN only as punycode, "xn--"), an
    IPv4 address, or an IPv6 address in brackets. Nothing that needs quoting or escaping anywhere."""
    if not value.isascii():
        return False
    if value.startswith("["):
        return value.endswith("]") and _is_ipv6(value[1:-1])
    labels = value.lower().split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return _is_ipv4(value)
    return len(value) <= 253 and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)


def _is_ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)  # four decimal parts, no leading zeros
    except ValueError:
        return False
    return True


def _is_ipv6(value: str) -> bool:
    if "%" in value:  # a zone id ("fe80::1%eth0") names an interface of one machine, not a host
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True
