"""Statistics for the agent: clients now, connections per hour, unique devices, session lengths."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from captive_portal.snapshot import read_snapshot
from tests.captive_portal.portal_app import make_portal


def test_a_connection_is_written_to_the_snapshot_at_once(tmp_path):
    portal = make_portal(tmp_path)
    portal.neighbours.macs["10.42.0.23"] = "3c:28:6d:aa:bb:cc"

    portal.tap_connect("10.42.0.23")

    snapshot = read_snapshot(portal.settings.state_dir)
    assert snapshot is not None
    assert snapshot.clients_now == 1
    assert snapshot.unique_devices_today == 1
    assert snapshot.connections_by_hour == {datetime(2026, 11, 24, 9, tzinfo=UTC): 1}
    assert snapshot.day.isoformat() == "2026-11-24"


def test_connections_are_counted_by_hour(tmp_path):
    portal = make_portal(tmp_path)
    portal.tap_connect("10.42.0.30")
    portal.tap_connect("10.42.0.31")
    portal.clock.advance(hours=1)
    portal.tap_connect("10.42.0.32")

    snapshot = read_snapshot(portal.settings.state_dir)

    assert list(snapshot.connections_by_hour.values()) == [2, 1]
    assert snapshot.clients_now == 3


def test_an_expired_session_is_counted_with_its_length(tmp_path):
    portal = make_portal(tmp_path, session_s=3600)
    portal.tap_connect()
    portal.clock.advance(minutes=30)
    portal.refresh()
    portal.clock.advance(minutes=40)  # expired 10 minutes ago, seen now

    portal.refresh()

    snapshot = read_snapshot(portal.settings.state_dir)
    assert snapshot.clients_now == 0
    assert [s.seconds for s in snapshot.ended_sessions] == [3600]
    assert snapshot.ended_sessions[0].ended_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_a_renewed_session_is_one_longer_session(tmp_path):
    portal = make_portal(tmp_path, session_s=3600)
    portal.tap_connect()
    portal.clock.advance(minutes=50)
    portal.tap_connect()
    portal.clock.advance(hours=2)

    portal.refresh()

    snapshot = read_snapshot(portal.settings.state_dir)
    assert [s.seconds for s in snapshot.ended_sessions] == [50 * 60 + 3600]
    assert sum(snapshot.connections_by_hour.values()) == 2


def test_a_revoked_session_ends_between_two_checks(tmp_path):
    portal = make_portal(tmp_path, session_s=3600)
    portal.tap_connect()
    portal.clock.advance(minutes=10)
    portal.refresh()
    portal.access.revoke(ipaddress.ip_address("10.42.0.23"))
    portal.clock.advance(seconds=10)

    portal.refresh()

    (ended,) = read_snapshot(portal.settings.state_dir).ended_sessions
    assert 600 <= ended.seconds <= 610


def test_counts_survive_a_restart_of_the_portal(tmp_path):
    first = make_portal(tmp_path)
    first.tap_connect("10.42.0.30")
    first.tap_connect("10.42.0.31")

    restarted = make_portal(tmp_path, clock=first.clock)
    restarted.tap_connect("10.42.0.32")

    snapshot = read_snapshot(restarted.settings.state_dir)
    assert sum(snapshot.connections_by_hour.values()) == 3
    assert snapshot.unique_devices_today == 3


def test_the_unique_count_starts_again_each_day(tmp_path):
    portal = make_portal(tmp_path)
    portal.tap_connect()
    portal.clock.advance(days=1)

    portal.tap_connect()

    snapshot = read_snapshot(portal.settings.state_dir)
    assert snapshot.unique_devices_today == 1
    assert snapshot.day.isoformat() == "2026-11-25"


def test_old_hours_and_sessions_leave_the_snapshot_after_a_day(tmp_path):
    portal = make_portal(tmp_path, session_s=600)
    portal.tap_connect()
    portal.clock.advance(minutes=20)
    portal.refresh()
    portal.clock.advance(hours=25)

    portal.refresh()

    snapshot = read_snapshot(portal.settings.state_dir)
    assert snapshot.connections_by_hour == {}
    assert snapshot.ended_sessions == []
