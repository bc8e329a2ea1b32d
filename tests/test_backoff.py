"""The one Backoff every retry waits by: the writer's, the spool replay's, each sink's."""

from __future__ import annotations

import random

from skilltrack.daemon.backoff import Backoff
from skilltrack.daemon.forward.retry import RetryPolicy


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    backoff = Backoff(initial=1.0, cap=60.0, rng=random.Random(7))
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]:
        delays = [backoff.delay(failures) for _ in range(2000)]
        assert 0.0 <= min(delays) < ceiling * 0.05  # full jitter: down to zero
        assert ceiling * 0.95 < max(delays) <= ceiling


def test_retry_after_is_a_floor_and_is_clamped() -> None:
    backoff = Backoff(initial=1.0, cap=60.0, retry_after_cap=600.0)
    assert all(backoff.delay(1, retry_after=30.0) >= 30.0 for _ in range(100))
    assert backoff.delay(1, retry_after=86400.0) == 600.0
    assert backoff.delay(12, retry_after=0.0) <= 60.0


def test_failures_in_a_row_grow_the_wait_until_a_success_resets_them() -> None:
    backoff = Backoff(initial=1.0, cap=1000.0, rng=random.Random(3))
    ceilings = []
    for _ in range(5):
        backoff.failed()
        ceilings.append(min(backoff.cap, backoff.initial * 2 ** (backoff.failures - 1)))
    assert (backoff.failures, ceilings) == (5, [1.0, 2.0, 4.0, 8.0, 16.0])
    backoff.succeeded()
    assert backoff.failures == 0
    assert backoff.failed() <= 1.0  # the first failure's wait again


def test_a_very_long_run_of_failures_stays_at_the_cap() -> None:
    # 2**2000 would overflow a float: the count is clamped before the power.
    backoff = Backoff(initial=0.05, cap=2.0)
    assert 0.0 <= backoff.delay(2000) <= 2.0


def test_a_sinks_policy_hands_its_settings_to_its_backoff() -> None:
    backoff = RetryPolicy(initial_s=0.5, max_s=9.0, retry_after_max_s=42.0).backoff()
    assert (backoff.initial, backoff.cap, backoff.retry_after_cap) == (0.5, 9.0, 42.0)
    assert backoff.delay(1, retry_after=1e9) == 42.0


def test_least_keeps_each_wait_in_the_upper_part_of_its_ceiling() -> None:
    backoff = Backoff(initial=2.0, cap=300.0, least=0.5, rng=random.Random(5))
    for failures, ceiling in [(1, 2.0), (2, 4.0), (4, 16.0), (12, 300.0)]:
        delays = [backoff.delay(failures) for _ in range(500)]
        assert ceiling / 2 <= min(delays) < ceiling * 0.55
        assert ceiling * 0.95 < max(delays) <= ceiling
