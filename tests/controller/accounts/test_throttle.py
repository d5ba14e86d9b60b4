"""Sign-in attempts limited per account and per address (controller/accounts/throttle.py)."""

from __future__ import annotations

from controller.accounts.throttle import MAX_KEYS, SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, **limits) -> SignInThrottle:
    return SignInThrottle(clock=clock, **{"per_account": 3, "per_address": 10, **limits})


def test_an_account_is_held_after_its_failures_and_the_wait_grows():
    clock = Clock()
    limiter = throttle(clock)
    for _ in range(2):
        limiter.failed("10.0.0.1", "ana")
    assert limiter.retry_after("10.0.0.1", "ana") == 0

    limiter.failed("10.0.0.1", "ana")
    assert limiter.retry_after("10.0.0.1", "ana") == 30
    assert limiter.retry_after("10.0.0.2", "ana") == 30  # from any address
    assert limiter.retry_after("10.0.0.1", "bob") == 0  # others still sign in

    clock.now += 31
    limiter.failed("10.0.0.1", "ana")
    assert limiter.retry_after("10.0.0.1", "ana") == 60  # each failure doubles the wait


def test_one_address_trying_many_accounts_is_held():
    clock = Clock()
    limiter = throttle(clock, per_address=5)
    for n in range(5):
        limiter.failed("10.0.0.9", f"guess{n}")
    assert limiter.retry_after("10.0.0.9", "someone-else") == 30
    assert limiter.retry_after("10.0.0.8", "someone-else") == 0


def test_the_wait_is_capped_and_a_success_clears_the_account():
    clock = Clock()
    limiter = throttle(clock, max_block_s=100)
    for _ in range(10):
        limiter.failed("10.0.0.1", "ana")
    assert limiter.retry_after("10.0.0.1", "ana") == 100
    clock.now += 101
    limiter.succeeded("ana")
    assert limiter.retry_after("10.0.0.1", "ana") == 0


def test_failures_long_ago_are_forgotten():
    clock = Clock()
    limiter = throttle(clock)
    limiter.failed("10.0.0.1", "ana")
    limiter.failed("10.0.0.1", "ana")
    clock.now += 901  # past the window
    limiter.failed("10.0.0.1", "ana")
    assert limiter.retry_after("10.0.0.1", "ana") == 0


def test_memory_stays_bounded_under_random_names():
    limiter = throttle(Clock())
    for n in range(MAX_KEYS + 500):
        limiter.failed("10.0.0.1", f"random-{n}")
    assert len(limiter._attempts) <= MAX_KEYS
