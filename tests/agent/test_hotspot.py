"""The hotspot role (agent/hotspot.py): the portal's statistics reach the controller once each,
in aggregates, across restarts of the agent; a silent portal shows as not running."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from agent.hotspot import PortalWatch, portal_changes, without_stale_portal_settings
from agent.protocol import PortalModeName, PortalStats, UpdateConfigArgs
from agent.spool import Spool
from captive_portal.snapshot import EndedSession, PortalSnapshot, write_snapshot

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
HOUR = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def snapshot(connections: int, sessions: list[tuple[int, int]], clients: int = 3) -> PortalSnapshot:
    return PortalSnapshot(
        at=NOW,
        day=date(2026, 11, 22),
        clients_now=clients,
        connections_by_hour={HOUR: connections},
        unique_devices_today=connections,
        ended_sessions=[
            EndedSession(ended_at=NOW - timedelta(minutes=m), seconds=s) for m, s in sessions
        ],
    )


def watch(tmp_path: Path, spool: Spool) -> PortalWatch:
    return PortalWatch(
        portal_state_dir=tmp_path / "portal",
        state_dir=tmp_path / "agent",
        events=spool,
        now=lambda: NOW,
    )


def spooled(spool: Spool) -> list[PortalStats]:
    batch = spool.pending_batch()
    return [e for e in batch.events if isinstance(e, PortalStats)] if batch else []


def test_changes_are_sent_once_and_sessions_never_twice_even_after_a_restart(tmp_path: Path):
    (tmp_path / "portal").mkdir()
    (tmp_path / "agent").mkdir()
    spool = Spool(tmp_path / "spool.db")
    write_snapshot(tmp_path / "portal", snapshot(4, [(20, 600), (5, 1200)]))

    first = watch(tmp_path, spool)
    sent = first.tick()
    assert sent is not None and sorted(sent.session_lengths_s) == [600, 1200]
    assert sent.connections_by_hour[0].connections == 4 and sent.clients_now == 3
    assert first.tick() is None  # nothing new

    write_snapshot(tmp_path / "portal", snapshot(6, [(20, 600), (5, 1200), (1, 60)]))
    restarted = watch(tmp_path, spool)  # a new agent process: the cursor is on disk
    again = restarted.tick()

    assert again is not None and again.session_lengths_s == [60]
    assert again.connections_by_hour[0].connections == 6
    assert len(spooled(spool)) == 2


def test_missing_or_stale_statistics_mean_the_portal_is_not_running(tmp_path: Path):
    (tmp_path / "agent").mkdir()
    spool = Spool(tmp_path / "spool.db")
    w = watch(tmp_path, spool)
    assert w.tick() is None and w.state() == {"portal": "not running"}

    (tmp_path / "portal").mkdir()
    write_snapshot(tmp_path / "portal", snapshot(1, []))
    w.tick()
    assert w.state() == {"portal": "running", "portal_clients": "3"}
    w._now = lambda: NOW + timedelta(minutes=5)
    assert w.state() == {"portal": "not running"}


def test_portal_settings_older_than_those_in_force_are_ignored_whole():
    in_force = UpdateConfigArgs(portal_mode=PortalModeName.CODE, portal_revision=5)
    delayed = UpdateConfigArgs(
        portal_mode=PortalModeName.CLICK, portal_revision=4, heartbeat_interval_s=30
    )

    kept, notes = without_stale_portal_settings(in_force, delayed)

    assert kept == UpdateConfigArgs(heartbeat_interval_s=30)  # the rest still applies
    assert notes == ["portal settings of revision 4 ignored: revision 5 is in force"]
    newer = UpdateConfigArgs(portal_mode=PortalModeName.CLICK, portal_revision=6)
    assert without_stale_portal_settings(in_force, newer) == (newer, [])


def test_the_output_names_what_changed_and_never_the_secret():
    secret = "s" * 40
    before = UpdateConfigArgs(portal_mode=PortalModeName.CLICK, portal_code_secret=secret)
    same_secret = UpdateConfigArgs(portal_mode=PortalModeName.CODE, portal_code_secret=secret)
    new_secret = UpdateConfigArgs(portal_code_secret="t" * 40)

    assert portal_changes(before, same_secret) == ["portal_mode = 'code'"]
    assert portal_changes(before, new_secret) == [
        "portal_code_secret changed (earlier tickets no longer open)"
    ]
