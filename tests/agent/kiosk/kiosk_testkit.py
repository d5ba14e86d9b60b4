"""Helpers of the kiosk's tests (named so it cannot collide with another folder's module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A Tuesday morning in Grenoble, 09:00 UTC (10:00 local).
START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


class Clock:
    """The bank's clock: it moves only when the test says so."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
