"""Reconnection delays: exponential backoff with full jitter.

Full jitter (a uniform draw up to the exponential ceiling) spreads a whole fleet's reconnections
after a controller restart instead of bringing every device back in the same second.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays before the next attempt: ``uniform(min_s, min(max_s, min_s * 2**(failures + 1)))``.

    Even the first retry is jittered (between ``min_s`` and twice that), so a fleet whose
    controller restarts does not come back in the same second.
    """

    def __init__(
        self, min_s: float = 1.0, max_s: float = 60.0, *, rng: random.Random | None = None
    ):
        if min_s <= 0 or max_s < min_s:
            raise ValueError(f"need 0 < min_s <= max_s, got min_s={min_s}, max_s={max_s}")
        self.min_s = min_s
        self.max_s = max_s
        self.failures = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def ceiling(self) -> float:
        """The largest delay the next failure may draw."""
        # Cap the exponent: 2**1000 would overflow a float long after reaching max_s anyway.
        return min(self.max_s, self.min_s * 2.0 ** min(self.failures + 1, 64))

    def next_delay(self) -> float:
        """Record one more failure and return how long to wait before trying again."""
        delay = self._rng.uniform(self.min_s, self.ceiling())
        self.failures += 1
        return delay

    def max_delay(self) -> float:
        """A delay near the maximum, for failures that retrying sooner cannot fix (refused auth).

        Still jittered over the upper half so refused devices do not return in lockstep.
        """
        self.failures += 1
        return self._rng.uniform(max(self.min_s, self.max_s / 2), self.max_s)

    def reset(self) -> None:
        """Success: the next failure starts again from ``min_s``."""
        self.failures = 0
