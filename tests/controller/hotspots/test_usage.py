"""Hotspot statistics on the controller (controller/hotspots/usage.py): running totals only raise
counts, so replays and reordering never double them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from agent import protocol
from agent.protocol import DeviceKind
from controller.access import Role
from controller.errors import PermissionDenied
from controller.fleet.ingest import _Pending, write_events
from controller.hotspots import usage as portal_usage
from controller.hotspots.models import PortalDay, PortalHour, PortalSession
from tests.factories import make_device, make_site, make_user

HOUR = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def stats(seq: int, connections: int, unique: int, now: int, lengths=()) -> protocol.PortalStats:
    return protocol.PortalStats(
        seq=seq,
        at=HOUR,
        day=date(2026, 11, 22),
        clients_now=now,
        unique_devices_today=unique,
        connections_by_hour=[protocol.PortalHour(hour=HOUR, connections=connections)],
        session_lengths_s=list(lengths),
    )


def test_portal_counts_are_running_totals_and_sessions_are_lengths_only(db, event_handlers):
    hotspot = make_device(db, kind=DeviceKind.HOTSPOT)

    write_events(db, [_Pending(hotspot.id, [stats(1, 5, 4, 3, [600])])], handlers=event_handlers)
    write_events(
        db, [_Pending(hotspot.id, [stats(2, 9, 7, 2, [1200, 30])])], handlers=event_handlers
    )
    write_events(
        db, [_Pending(hotspot.id, [stats(3, 8, 6, 1)])], handlers=event_handlers
    )  # late, smaller totals

    hour = db.scalars(select(PortalHour)).one()
    assert hour.connections == 9 and hour.site_id == hotspot.site_id
    day = db.scalars(select(PortalDay)).one()
    assert (day.unique_devices, day.peak_clients, day.clients_now) == (7, 3, 1)
    assert sorted(s.seconds for s in db.scalars(select(PortalSession))) == [30, 600, 1200]


def test_a_hotspots_use_is_read_only_by_who_covers_it(db):
    hotspot = make_device(db, kind=DeviceKind.HOTSPOT)
    elsewhere = make_user(db, Role.MANAGER, sites=[make_site(db)])
    with pytest.raises(PermissionDenied):
        portal_usage.latest_day(db, elsewhere, hotspot)
    assert portal_usage.latest_day(db, make_user(db, Role.ADMIN), hotspot) is None
