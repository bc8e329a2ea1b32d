"""How long to wait before trying again: the one backoff every retry in the daemon uses.

Exponential with full jitter: after the n-th failure in a row, wait a uniform time in
[0, c] where c = min(cap, initial·2ⁿ⁻¹), so that what failed together does not come back
together. Where near-zero waits would defeat the point (one writer hammering a store that is
down; a spool record given up after so many tries), `least` keeps the wait in [least·c, c].
A wait the other side asked for (an HTTP `Retry-After`) is a floor under it all, itself
capped so that no receiver can park us for days. Pure arithmetic, no I/O, no clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# 2**62 already dwarfs any cap: beyond it the power would only overflow a float.
_MAX_DOUBLINGS = 62


@dataclass
class Backoff:
    initial: float
    cap: float
    retry_after_cap: float = 600.0
    least: float = 0.0  # of each wait's ceiling: 0 for full jitter
    failures: int = 0  # in a row, since the last success
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after `failures` failures in a row (1 for the first)."""
        doublings = min(max(0, failures - 1), _MAX_DOUBLINGS)
        ceiling = min(self.cap, self.initial * 2**doublings)
        wait = self.rng.uniform(self.least * ceiling, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_cap))
        return wait

    def failed(self, retry_after: float | None = None) -> float:
        """Count one more failure in a row; the seconds to wait before the next try."""
        self.failures += 1
        return self.delay(self.failures, retry_after)

    def succeeded(self) -> None:
        self.failures = 0
