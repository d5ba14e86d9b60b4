"""How much one device may send: events per second (a bucket that a replay after an outage may
empty at once) and bytes per day. A broken or hostile agent cannot flood the database or the
writer that every device shares; an honest one is only slowed, and sends again later.

Counted in each controller process's memory (one entry per device); with several processes,
each counts what it receives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime


class DeviceOverLimit(Exception):
    """The device sent more than it may: it should send again after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    tokens: float
    updated: float


class DeviceLimits:
    def __init__(
        self,
        *,
        events_per_s: float = 100.0,
        burst: int = 5000,
        bytes_per_day: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.events_per_s = events_per_s
        self.burst = burst
        self.bytes_per_day = bytes_per_day
        self._clock = clock
        self._today = today
        self._buckets: dict[str, _Bucket] = {}
        self._volume: dict[str, tuple[date, int]] = {}

    def admit(self, device_id: str, events: int, size: int) -> None:
        """Count ``events`` of ``size`` bytes from the device, or refuse them all."""
        now = self._clock()
        bucket = self._buckets.get(device_id) or _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.events_per_s)
        bucket.updated = now
        self._buckets[device_id] = bucket
        if events > bucket.tokens:
            wait = (events - bucket.tokens) / self.events_per_s
            raise DeviceOverLimit(
                f"more than {self.events_per_s:g} events a second from this device: send again "
                f"in {wait:.0f} s",
                wait,
            )
        today = self._today()
        day, sent = self._volume.get(device_id, (today, 0))
        if day != today:
            sent = 0
        if sent + size > self.bytes_per_day:
            raise DeviceOverLimit(
                f"this device sent {sent} bytes today, of {self.bytes_per_day} a day: send again "
                "tomorrow (UTC)",
                _seconds_to_midnight(),
            )
        bucket.tokens -= events
        self._volume[device_id] = (today, sent + size)


def _seconds_to_midnight() -> float:
    now = datetime.now(UTC)
    return 86400.0 - (now.hour * 3600 + now.minute * 60 + now.second)
