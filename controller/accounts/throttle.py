"""Sign-in attempts, limited per account and per address: a storm of wrong passwords neither
guesses a password nor keeps the controller busy hashing.

After ``per_account`` failures within ``window_s`` on one account (or ``per_address`` from one
address, whatever the accounts tried), attempts are refused for ``first_block_s``; each further
failure doubles the wait, up to ``max_block_s``. A successful sign-in clears the account's
count. Counts live in the process's memory (bounded): with several processes behind nginx's
sticky sessions, each counts the attempts it serves.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000  # accounts and addresses remembered at most (the oldest are forgotten first)


@dataclass
class _Attempts:
    failures: int = 0
    window_started: float = 0.0
    blocked_until: float = 0.0
    block_s: float = 0.0


class SignInThrottle:
    def __init__(
        self,
        *,
        per_account: int = 5,
        per_address: int = 20,
        window_s: float = 900.0,
        first_block_s: float = 30.0,
        max_block_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self.window_s = window_s
        self.first_block_s = first_block_s
        self.max_block_s = max_block_s
        self._clock = clock
        self._attempts: OrderedDict[tuple[str, str], _Attempts] = OrderedDict()

    def retry_after(self, address: str, account: str) -> float:
        """Seconds to wait before trying again (0: an attempt may go ahead)."""
        now = self._clock()
        waits = [
            self._attempts[key].blocked_until - now
            for key in self._keys(address, account)
            if key in self._attempts
        ]
        return max([0.0, *waits])

    def failed(self, address: str, account: str) -> None:
        now = self._clock()
        for key in self._keys(address, account):
            attempts = self._attempts.pop(key, None) or _Attempts(window_started=now)
            if now - attempts.window_started > self.window_s and now >= attempts.blocked_until:
                attempts = _Attempts(window_started=now)  # a fresh window, nothing held
            attempts.failures += 1
            if attempts.failures >= self.limits[key[0]]:
                attempts.block_s = min(
                    attempts.block_s * 2 if attempts.block_s else self.first_block_s,
                    self.max_block_s,
                )
                attempts.blocked_until = now + attempts.block_s
            self._attempts[key] = attempts  # most recent last
        while len(self._attempts) > MAX_KEYS:
            self._attempts.popitem(last=False)

    def succeeded(self, account: str) -> None:
        self._attempts.pop(("account", account), None)

    @staticmethod
    def _keys(address: str, account: str) -> list[tuple[str, str]]:
        return [("address", address), ("account", account)]
