"""Which client addresses may reach the internet: the one interface the web side grants through.

The real implementation keeps authorised addresses in an nftables set whose per-element timeout
is the session length (:mod:`captive_portal.nft`), so expiry needs no daemon and a restart of the
portal forgets nobody. :class:`MemoryClientAccess` has the same behaviour for tests and previews.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Protocol

ClientAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClientAccess(Protocol):
    def grant(self, address: ClientAddress, seconds: int) -> None:
        """Let ``address`` out for ``seconds`` (renewing replaces the remaining time)."""
        ...

    def revoke(self, address: ClientAddress) -> None: ...

    def remaining(self, address: ClientAddress) -> int | None:
        """Seconds left for ``address``, or None when it is not authorised."""
        ...

    def count(self) -> int:
        """How many clients are authorised now."""
        ...

    def remaining_all(self) -> dict[ClientAddress, int]:
        """Every authorised client and its seconds left, in one read (statistics)."""
        ...


class MemoryClientAccess:
    """Authorised addresses in a dict, with the same expiry rule as the nftables set."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[ClientAddress, float] = {}
        self._lock = threading.Lock()

    def grant(self, address: ClientAddress, seconds: int) -> None:
        with self._lock:
            self._until[address] = self._clock() + seconds

    def revoke(self, address: ClientAddress) -> None:
        with self._lock:
            self._until.pop(address, None)

    def remaining(self, address: ClientAddress) -> int | None:
        with self._lock:
            until = self._until.get(address)
            if until is None:
                return None
            left = until - self._clock()
            if left <= 0:
                del self._until[address]
                return None
            return int(left)

    def count(self) -> int:
        return len(self.remaining_all())

    def remaining_all(self) -> dict[ClientAddress, int]:
        now = self._clock()
        with self._lock:
            for address in [a for a, until in self._until.items() if until <= now]:
                del self._until[address]
            return {a: int(until - now) for a, until in self._until.items()}
