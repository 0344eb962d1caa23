"""The queue messages of `verify-requests` as JSON: what the fan-out sends and the worker reads."""
from __future__ import annotations

import json
from typing import Any

from .models import Cursor
from .rules import is_customer_id
from .verification import Chunk, FanOut, Work


def encode(work: Work) -> str:
    if isinstance(work, FanOut):
        after = [work.after.partition, work.after.row] if work.after is not None else None
        return json.dumps({"fanOut": work.run_id, "after": after}, separators=(",", ":"))
    return json.dumps({"run": work.run_id, "customers": list(work.customer_ids)}, separators=(",", ":"))


def decode(text: str) -> Work:
    """The work a message holds; ValueError for anything this app did not send."""
    body: Any = json.loads(text)
    if not isinstance(body, dict):
        raise ValueError("a queue message is a JSON object")
    if set(body) == {"fanOut", "after"} and isinstance(body["fanOut"], str):
        after = body["after"]
        if after is None:
            return FanOut(body["fanOut"])
        if (isinstance(after, list) and len(after) == 2 and isinstance(after[0], str)
                and (after[1] is None or isinstance(after[1], str))):
            return FanOut(body["fanOut"], Cursor(after[0], after[1]))
    if set(body) == {"run", "customers"} and isinstance(body["run"], str) and isinstance(body["customers"], list):
        customers = body["customers"]
        if all(isinstance(c, str) and is_customer_id(c) for c in customers):
            return Chunk(body["run"], tuple(customers))
    raise ValueError("not a verify-requests message")
