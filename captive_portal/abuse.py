"""Limits that keep one device from hogging the hotspot: taps (and code guesses) per minute.

Counted per client address in memory only, over a sliding minute. A randomised MAC gets a new
address from DHCP and so a fresh allowance, which is fine: the cap on concurrent clients
(``max_clients``) still holds, and the limit is there against scripts, not people.
"""

from __future__ import annotations

import math
import threading
from collections import deque

WINDOW_S = 60.0
_PURGE_ABOVE = 10_000  # addresses remembered before stale ones are swept


class ConnectRateLimit:
    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> bool:
        """Count one attempt by ``key`` at ``now`` (seconds); False when over the limit."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - WINDOW_S:
                hits.popleft()
            if len(hits) >= self._per_minute:
                return False
            hits.append(now)
            if len(self._hits) > _PURGE_ABOVE:
                self._sweep(now)
            return True

    def retry_after(self, key: str, now: float) -> int:
        """Whole seconds until ``key`` may try again (at least 1)."""
        with self._lock:
            hits = self._hits.get(key)
            if not hits:
                return 1
            return max(1, math.ceil(hits[0] + WINDOW_S - now))

    def _sweep(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - WINDOW_S]:
            del self._hits[key]
