"""Batches: which events go out together, decided once for every instance.

A chain (`run:<runId>`, or `changes` outside runs) has batches that follow one another by the events' positions in
the log: batch n holds the chain's events numbered in (low, high], and its `BatchHead`, recorded before any of its
deliveries is made, gives the delivery ids their key, `<chain>:<low>-<high>` (README, "Alerts", says what that
guarantees). A run's events are ready once the run has finished; changes once GATHER_WINDOW has passed since the
first of them not yet in a batch.
"""
from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .digests import Batch
from .events import LoggedEvent

GATHER_WINDOW = timedelta(minutes=1)
CHANGES = "changes"  # the chain of changes outside runs


@dataclass(frozen=True, slots=True)
class BatchHead:
    """A chain's latest batch: its events are the chain's events numbered in (low, high]; `done` once every
    channel's delivery of it is kept."""

    chain: str
    number: int
    low: int
    high: int
    done: bool = False
    etag: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """The batch key the delivery ids are made from: the same wherever and however often it is built."""
        return f"{self.chain}:{self.low}-{self.high}"

    def holds(self, position: int) -> bool:
        return self.low < position <= self.high

    def settled(self, position: int) -> bool:
        """Whether the chain's event at `position` has every delivery kept (in this batch or an earlier one)."""
        return position <= (self.high if self.done else self.low)


def chain_of(logged: LoggedEvent) -> str:
    run_id = logged.event.run_id
    return CHANGES if run_id is None else f"run:{run_id}"


def batch_of(head: BatchHead, logged: Sequence[LoggedEvent]) -> Batch:
    """The batch `head` names, from the events read (oldest first by `at`, then eventId)."""
    events = sorted((e.event for e in logged if head.holds(e.position) and chain_of(e) == head.chain),
                    key=lambda e: (e.at, e.event_id))
    run_id = None if head.chain == CHANGES else head.chain.removeprefix("run:")
    return Batch(head.key, run_id, tuple(events))


def next_head(chain: str, head: BatchHead | None, logged: Sequence[LoggedEvent], *, now: datetime,
              finished_runs: Container[str]) -> BatchHead | None:
    """The chain's next batch after `head` (done, or None: the chain has none yet) from the chain's events read, or
    None when none is ready at `now`. A chain's first batch starts at 0: the events below the reader's mark are
    settled and never read again, so its key is still new and nothing is sent twice."""
    if head is not None and not head.done:
        return None  # the next batch starts once every delivery of this one is kept
    after = head.high if head is not None else 0
    pending = [e for e in logged if e.position > after and chain_of(e) == chain]
    if not pending:
        return None
    if chain == CHANGES:
        closes = min(e.event.at for e in pending) + GATHER_WINDOW
        if now < closes:
            return None
        high = max(e.position for e in pending if e.event.at < closes)
    else:
        if chain.removeprefix("run:") not in finished_runs:
            return None
        high = max(e.position for e in pending)
    if head is None:
        return BatchHead(chain, 1, 0, high)
    return BatchHead(chain, head.number + 1, head.high, high)
