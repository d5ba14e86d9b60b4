"""Offline detection (controller/fleet/presence.py): three missed heartbeats, per device
interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.fleet.models import DeviceStatus
from controller.fleet.presence import is_overdue, mark_overdue_offline
from tests.factories import make_device

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_a_device_is_overdue_only_after_three_missed_heartbeats():
    assert not is_overdue(NOW - timedelta(seconds=29), 10, 3, NOW)
    assert is_overdue(NOW - timedelta(seconds=31), 10, 3, NOW)
    assert not is_overdue(None, 10, 3, NOW)  # never seen: "new", not "offline"


def test_silent_devices_go_offline_and_others_stay_online(db):
    silent = make_device(db, status=DeviceStatus.ONLINE, last_seen_at=NOW - timedelta(seconds=40))
    talking = make_device(db, status=DeviceStatus.ONLINE, last_seen_at=NOW - timedelta(seconds=5))
    slow = make_device(
        db,
        status=DeviceStatus.ONLINE,
        heartbeat_interval_s=60,
        last_seen_at=NOW - timedelta(seconds=40),
    )

    gone = mark_overdue_offline(db, missed=3, now=NOW)
    db.expire_all()

    assert [g.device_id for g in gone] == [silent.id]
    assert silent.status == DeviceStatus.OFFLINE and silent.status_changed_at == NOW
    assert talking.status == slow.status == DeviceStatus.ONLINE


def test_marking_twice_reports_a_device_once(db):
    make_device(db, status=DeviceStatus.ONLINE, last_seen_at=NOW - timedelta(minutes=5))
    assert len(mark_overdue_offline(db, missed=3, now=NOW)) == 1
    assert mark_overdue_offline(db, missed=3, now=NOW) == []
