from __future__ import annotations

import random

import pytest

from agent.backoff import Backoff


def test_delays_grow_exponentially_between_min_and_the_ceiling() -> None:
    backoff = Backoff(1, 60, rng=random.Random(4))
    for failures in range(12):
        ceiling = min(60, 2 ** (failures + 1))
        assert backoff.ceiling() == ceiling
        assert 1 <= backoff.next_delay() <= ceiling


def test_delays_never_exceed_max_even_after_many_failures() -> None:
    backoff = Backoff(1, 60, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(2000)]
    assert max(delays) <= 60
    assert max(delays[-100:]) > 30  # jitter covers the range up to the maximum


def test_full_jitter_spreads_a_fleet() -> None:
    first_delays = {round(Backoff(1, 60, rng=random.Random(i)).next_delay(), 3) for i in range(50)}
    assert len(first_delays) > 40


def test_reset_starts_again_from_min() -> None:
    backoff = Backoff(2, 60, rng=random.Random(0))
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.ceiling() == 4
    assert 2 <= backoff.next_delay() <= 4


def test_max_delay_stays_in_the_upper_half() -> None:
    backoff = Backoff(1, 60, rng=random.Random(9))
    assert all(30 <= backoff.max_delay() <= 60 for _ in range(200))


@pytest.mark.parametrize(("min_s", "max_s"), [(0, 10), (-1, 10), (5, 1)])
def test_bad_bounds_are_refused(min_s: float, max_s: float) -> None:
    with pytest.raises(ValueError, match="min_s"):
        Backoff(min_s, max_s)
