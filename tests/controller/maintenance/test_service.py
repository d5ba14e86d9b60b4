"""Alerts (controller/maintenance/service.py): one open per device and kind, and each reader sees
only those of the places they cover, whichever page or API asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.access import Role
from controller.db import utcnow
from controller.errors import PermissionDenied
from controller.fleet.models import DeviceStatus
from controller.maintenance import service as alerts
from controller.maintenance.models import AlertKind
from tests.factories import make_device, make_organisation, make_site, make_user


def test_each_reader_sees_the_alerts_of_the_places_they_cover_only(db):
    here, there = make_site(db), make_site(db)
    mine = make_device(db, here)
    theirs = make_device(db, there)
    for device in (mine, theirs):
        alerts.raise_alert(db, device, AlertKind.WIPE_INCOMPLETE, "left a file", utcnow())
    mediator = make_user(db, Role.MEDIATOR, sites=[here])
    manager = make_user(db, Role.MANAGER, organisations=[make_organisation(db)])

    assert [a.device_id for a in alerts.open_alerts(db, mediator)] == [mine.id]
    assert alerts.open_alerts(db, mediator, device_id=theirs.id) == []
    assert alerts.open_alerts(db, manager) == []
    assert {a.device_id for a in alerts.open_alerts(db, make_user(db, Role.ADMIN))} == {
        mine.id,
        theirs.id,
    }


def test_the_same_trouble_twice_is_one_alert_until_resolved(db):
    device = make_device(db)
    first = alerts.raise_alert(db, device, AlertKind.WIPE_INCOMPLETE, "one", utcnow())
    again = alerts.raise_alert(db, device, AlertKind.WIPE_INCOMPLETE, "two", utcnow())
    assert again.id == first.id and again.message == "two"

    alerts.resolve_alert(db, device.id, AlertKind.WIPE_INCOMPLETE, "clean again", utcnow())
    assert alerts.open_alerts(db, "system") == []


def test_an_inactive_account_reads_no_alert(db):
    user = make_user(db, Role.ADMIN, active=False)
    with pytest.raises(PermissionDenied):
        alerts.open_alerts(db, user)


def heartbeat_seen(db, device, claimed: datetime, received: datetime) -> None:
    """The device's latest heartbeat as the ingest keeps it: its clock and the controller's."""
    device.status = DeviceStatus.ONLINE
    device.metrics = {"at": claimed.isoformat(), "received_at": received.isoformat()}
    db.flush()


def test_a_clock_more_than_a_minute_off_raises_an_alert_that_goes_when_it_is_right(db):
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    fast = make_device(db, name="pc-fast")
    fine = make_device(db)
    heartbeat_seen(db, fast, now + timedelta(minutes=6, seconds=12), now)
    heartbeat_seen(db, fine, now + timedelta(seconds=20), now)

    alerts.check_clocks(db, now)

    (raised,) = alerts.open_alerts(db, "system")
    assert raised.device_id == fast.id and raised.kind == AlertKind.CLOCK_OFF
    assert "6 min 12 s ahead" in raised.message

    heartbeat_seen(db, fast, now + timedelta(seconds=3), now + timedelta(seconds=1))
    alerts.check_clocks(db, now + timedelta(minutes=1))

    assert alerts.open_alerts(db, "system") == []
    assert raised.resolution == "its clock is right again"
