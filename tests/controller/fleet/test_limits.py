"""What one device may send (controller/fleet/limits.py): events a second and bytes a day."""

from __future__ import annotations

from datetime import date

import pytest

from controller.fleet.limits import DeviceLimits, DeviceOverLimit


class Clock:
    now = 0.0
    day = date(2026, 12, 2)

    def __call__(self) -> float:
        return self.now


def limits(clock: Clock, **settings) -> DeviceLimits:
    return DeviceLimits(clock=clock, today=lambda: clock.day, **settings)


def test_a_burst_passes_then_the_device_waits_for_its_rate():
    clock = Clock()
    limiter = limits(clock, events_per_s=10, burst=500)
    limiter.admit("flood", 500, 1000)  # a replay after an outage
    with pytest.raises(DeviceOverLimit) as refused:
        limiter.admit("flood", 100, 1000)
    assert refused.value.retry_after_s == pytest.approx(10)
    limiter.admit("honest", 1, 100)  # others are not slowed

    clock.now += 10
    limiter.admit("flood", 100, 1000)


def test_bytes_a_day_are_counted_until_midnight():
    clock = Clock()
    limiter = limits(clock, bytes_per_day=10_000)
    limiter.admit("chatty", 1, 9_000)
    with pytest.raises(DeviceOverLimit, match="sent 9000 bytes today"):
        limiter.admit("chatty", 1, 2_000)
    clock.day = date(2026, 12, 3)
    limiter.admit("chatty", 1, 2_000)
