"""The work of a run sent over the queue `verify-requests`, and its messages as JSON.

A message the host gave up on reaches `verify-requests-poison` as it was sent, so the same decoding reads it
there. `resent` is written only when true.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .models import Cursor, is_cursor
from .rules import is_customer_id


@dataclass(frozen=True, slots=True)
class FanOut:
    """Enrol the customers listed next (after `after`) in a run and send their chunks. `resent`: sent again
    after it failed on every delivery (it is not sent a third time)."""

    run_id: str
    after: Cursor | None = None
    resent: bool = False


@dataclass(frozen=True, slots=True)
class Chunk:
    """Verify these customers for a run. `resent`: sent again after their work was lost."""

    run_id: str
    customer_ids: tuple[str, ...]
    resent: bool = False


@dataclass(frozen=True, slots=True)
class Watch:
    """Sent with a delay: look whether a run still makes progress, and recover it if not."""

    run_id: str


Work = FanOut | Chunk | Watch


def encode(work: Work) -> str:
    if isinstance(work, Watch):
        body: dict[str, Any] = {"watch": work.run_id}
    elif isinstance(work, FanOut):
        body = {"fanOut": work.run_id, "after": work.after}
    else:
        body = {"run": work.run_id, "customers": list(work.customer_ids)}
    if getattr(work, "resent", False):
        body["resent"] = True
    return json.dumps(body, separators=(",", ":"))


def decode(text: str) -> Work:
    """The work a message holds; ValueError for anything this app did not send."""
    body: Any = json.loads(text)
    if not isinstance(body, dict):
        raise ValueError("a queue message is a JSON object")
    resent = body.pop("resent", False)
    if resent is not True and resent is not False:
        raise ValueError("resent is true or false")
    if set(body) == {"watch"} and isinstance(body["watch"], str) and not resent:
        return Watch(body["watch"])
    if set(body) == {"fanOut", "after"} and isinstance(body["fanOut"], str):
        after = body["after"]
        if after is None or is_cursor(after):
            return FanOut(body["fanOut"], after, resent=resent)
    if set(body) == {"run", "customers"} and isinstance(body["run"], str) and isinstance(body["customers"], list):
        customers = body["customers"]
        if all(isinstance(c, str) and is_customer_id(c) for c in customers):
            return Chunk(body["run"], tuple(customers), resent=resent)
    raise ValueError("not a verify-requests message")
