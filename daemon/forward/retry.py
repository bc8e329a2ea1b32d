"""What a receiver's answer means for the events it was about, and how long to wait.

One small object with every setting explicit; pure functions, no I/O. The rules:

- 2xx: delivered.
- 408, 429, 502, 503, 504, a connection error or a timeout: transient, retried after the
  daemon's Backoff (exponential, full jitter); a `Retry-After` (seconds or an HTTP date) is a
  floor under that delay, clamped so that a receiver cannot park the sink for days.
- 413: the batch is too large; it is split (a single event that is too large is dead).
- Anything else (400, 403, 404, 500, …, and redirects, which are not followed): permanent for
  the events concerned. They are set aside as dead letters, counted, and can be re-sent with
  `skilltrack dead-letters resend`. (500 is not retried: a server error that a payload causes
  would otherwise block the sink's queue for ever.)
- 401 from a sink that `pauses_on_401`: permanent for the event, and the sink stops sending
  until the key is fixed and the daemon restarted.
"""

from __future__ import annotations

import email.utils
import enum
from dataclasses import dataclass, field

from skilltrack.daemon.backoff import Backoff


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    SPLIT = "split"
    DEAD = "dead"
    PAUSE = "pause"  # dead, and the sink stops sending


@dataclass(frozen=True)
class RetryPolicy:
    initial_s: float = 1.0
    max_s: float = 60.0
    # The most a Retry-After may make the sink wait.
    retry_after_max_s: float = 600.0
    retryable: frozenset[int] = field(default=frozenset({408, 429, 502, 503, 504}))
    pauses_on_401: bool = False

    def verdict(self, status: int) -> Verdict:
        if 200 <= status < 300:
            return Verdict.DELIVERED
        if status in self.retryable:
            return Verdict.RETRY
        if status == 413:
            return Verdict.SPLIT
        if status == 401 and self.pauses_on_401:
            return Verdict.PAUSE
        return Verdict.DEAD

    def backoff(self) -> Backoff:
        """A fresh count of failures in a row, waiting as this policy says."""
        return Backoff(self.initial_s, self.max_s, retry_after_cap=self.retry_after_max_s)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from `now` that a `Retry-After` header asks for; None when absent or not
    understood (garbage is ignored, not obeyed)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; a zone-less one is read as such
        return None
    return max(0.0, when.timestamp() - now)
