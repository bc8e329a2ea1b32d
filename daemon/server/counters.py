"""Counters for everything that can go wrong, shown by `skilltrack-daemon status`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Counters:
    """What the daemon has seen since it started."""

    received: int = 0  # frames read, valid or not (live and replayed)
    stored: int = 0  # events newly committed
    duplicates: int = 0  # events whose id was already stored (replays, resends)
    spooled: int = 0  # events the daemon itself put in the spool (buffer full, shutdown)
    replayed: int = 0  # spool records read back
    replay_retries: int = 0  # tries of spool records refused for a reason of ours, to retry
    set_aside: int = 0  # spool records given up after REPLAY_ATTEMPTS (spool.SET_ASIDE_NAME)
    store_retries: int = 0  # failed commits that were retried after a backoff
    clock_clamped: int = 0  # events whose client time was far off the daemon's (models.py)
    forward_task_failures: int = 0  # a sink's task ended by a bug (its events wait)
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    dropped: Counter[str] = field(default_factory=Counter)  # by reason: truly lost

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "spooled": self.spooled,
            "replayed": self.replayed,
            "replay_retries": self.replay_retries,
            "set_aside": self.set_aside,
            "store_retries": self.store_retries,
            "clock_clamped": self.clock_clamped,
            "forward_task_failures": self.forward_task_failures,
            "rejected": dict(self.rejected),
            "dropped": dict(self.dropped),
        }
