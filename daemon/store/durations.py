"""Duration buckets: a log scale fine enough for p50/p95 within 5%, coarse enough to sum.

Bucket 0 holds durations under 1 ms; bucket b ≥ 1 holds [1.1^(b-1), 1.1^b) ms. A percentile
read from the buckets is the geometric middle of the bucket it falls in, so it is within
about 5% of the true value (half a bucket's width on a log scale).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import accumulate

RATIO = 1.1
_LOG_RATIO = math.log(RATIO)


def bucket(ms: float) -> int:
    if ms < 1:
        return 0
    return 1 + int(math.log(ms) / _LOG_RATIO)


def representative(b: int) -> float:
    """The duration a bucket stands for: its geometric middle (0.5 ms for bucket 0)."""
    if b <= 0:
        return 0.5
    return float(RATIO ** (b - 0.5))


def percentile(counts: Iterable[tuple[int, int]], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) of the durations counted per bucket, as (bucket, n) pairs;
    None when nothing was timed. The nearest-rank definition: the smallest value with at
    least q of all values at or below it."""
    return percentiles(counts, (q,))[0]


def percentiles(counts: Iterable[tuple[int, int]], qs: Sequence[float]) -> list[float | None]:
    """Several quantiles of a histogram given as (bucket, n) pairs: `percentiles_by_bucket`."""
    per_bucket: list[int] = []
    for b, n in counts:
        if b >= 0 and n > 0:
            if b >= len(per_bucket):
                per_bucket.extend([0] * (b + 1 - len(per_bucket)))
            per_bucket[b] += n
    return percentiles_by_bucket(per_bucket, qs)


def percentiles_by_bucket(per_bucket: Sequence[int], qs: Sequence[float]) -> list[float | None]:
    """Several quantiles of one histogram given as the count of each bucket by its number (a
    report asks for p50 and p95 of every artifact). The running totals and the search are C
    loops: a report reads tens of thousands of buckets. Counts must not be negative."""
    running = list(accumulate(per_bucket))
    total = running[-1] if running else 0
    if total <= 0:
        return [None] * len(qs)
    return [
        round(representative(bisect_left(running, max(1, math.ceil(q * total)))), 1) for q in qs
    ]
