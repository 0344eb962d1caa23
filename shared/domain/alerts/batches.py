"""Batches: which events go out together, decided once for every instance.

Each event belongs to a chain: a run's events to `run:<runId>`, changes outside runs (verify one, consent) to
`changes`. A chain's batches follow one another by the events' positions in the log (the numbers read_after
gives, in the order relayed): batch n holds the chain's events numbered in (low, high], and its `BatchHead` is
recorded (created or replaced under its ETag, in the AlertFollower table) before any of its deliveries is made.
The delivery ids come from the head's key, `<chain>:<low>-<high>`, never from the set of events an instance
happened to read, so:
- two instances gathering at once agree through the head: the one whose write loses reads the winner's and makes
  the same batch (the same events, the same ids), or leaves it to the winner when it has not read that far;
- an event relayed late, after its batch was recorded, has a higher number: it is in a later batch, never a
  second copy of the first under another id;
- a gatherer that crashes after some channels' deliveries leaves the head not done: the next gathering rebuilds
  the same batch from the numbers it names and makes the deliveries missing, before any later batch of the chain.

A head is `done` once every channel's delivery is kept; the next batch of its chain starts only then. A run's
events are ready once the run has finished; changes once GATHER_WINDOW has passed since the first of them that
is not yet in a batch, and then every change numbered up to the last one of that window goes out together.
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
