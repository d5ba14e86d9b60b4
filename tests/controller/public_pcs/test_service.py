"""Public PCs on the controller (controller/public_pcs/service.py, maintenance/service.py):
sessions and wipe reports arrive as agent events, a wipe that left something raises an alert,
a clean one resolves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agent import protocol
from agent.protocol import CommandName, DeviceKind, SessionEnd
from controller import signals
from controller.access import Role
from controller.commands.models import Command
from controller.errors import DomainError, PermissionDenied
from controller.fleet import enrolment
from controller.fleet.ingest import _Pending, write_events
from controller.maintenance import service as alerts
from controller.maintenance.models import Alert, AlertKind
from controller.public_pcs import service as pc_usage
from controller.public_pcs.models import PcSession, WipeReport
from tests.factories import enrol_request, make_device, make_site, make_user

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def wipe(seq: int, *leftovers: protocol.Leftover, locked: bool = False) -> protocol.WipeReport:
    return protocol.WipeReport(
        seq=seq,
        at=NOW + timedelta(seconds=seq),
        started_at=NOW,
        ready_ms=140,
        wipe_ms=2300,
        removed_files=5000,
        removed_bytes=300 << 20,
        actions=["ended 12 processes"],
        leftovers=list(leftovers),
        leftovers_total=len(leftovers),
        login_locked=locked,
    )


IMMUTABLE = protocol.Leftover(area="home", path="Documents/cv.pdf", reason="immutable")


def test_session_is_stored_anonymously_with_its_length_and_ending(db, event_handlers):
    device = make_device(db)
    event = protocol.SessionRecord(
        seq=1,
        at=NOW,
        started_at=NOW - timedelta(minutes=42),
        ended_at=NOW,
        ended_by=protocol.SessionEnd.IDLE,
    )

    write_events(db, [_Pending(device.id, [event])], handlers=event_handlers)

    stored = db.scalars(select(PcSession)).one()
    assert (stored.device_id, stored.site_id) == (device.id, device.site_id)
    assert stored.duration_s == 42 * 60 and stored.ended_by == SessionEnd.IDLE


def test_clean_wipe_is_stored_and_announced_without_alert(db, event_handlers):
    device = make_device(db)
    heard = []
    receiver = lambda sender, **kw: heard.append((sender, kw["clean"]))  # noqa: E731
    signals.wipe_reported.connect(receiver)
    try:
        report = write_events(db, [_Pending(device.id, [wipe(1)])], handlers=event_handlers)
        db.commit()  # signals go out once the report is committed
    finally:
        signals.wipe_reported.disconnect(receiver)

    stored = db.scalars(select(WipeReport)).one()
    assert stored.clean and stored.removed_files == 5000 and stored.ready_ms == 140
    assert heard == [(device.id, True)]
    assert report.told("wipe")[0]["clean"] and report.told("wipe")[0]["site_id"] == device.site_id
    assert alerts.open_alerts(db, "system") == []


def test_wipe_leaving_something_raises_one_alert_until_a_clean_wipe(db, event_handlers):
    device = make_device(db)

    write_events(
        db, [_Pending(device.id, [wipe(1, IMMUTABLE, locked=True)])], handlers=event_handlers
    )
    write_events(
        db, [_Pending(device.id, [wipe(2, IMMUTABLE, locked=True)])], handlers=event_handlers
    )

    open_ = alerts.open_alerts(db, make_user(db, Role.MEDIATOR, sites=[device.site]))
    assert len(open_) == 1  # the same trouble twice is one alert
    assert open_[0].kind == AlertKind.WIPE_INCOMPLETE
    assert "Documents/cv.pdf" in open_[0].message and "login is locked" in open_[0].message

    write_events(db, [_Pending(device.id, [wipe(3)])], handlers=event_handlers)

    assert alerts.open_alerts(db, "system") == []
    closed = db.scalars(select(Alert)).one()
    assert closed.resolved_at is not None and closed.resolution == "a later wipe was clean"


def test_replayed_wipe_report_is_stored_once(db, event_handlers):
    device = make_device(db)
    event = wipe(1)

    write_events(db, [_Pending(device.id, [event])], handlers=event_handlers)
    write_events(db, [_Pending(device.id, [event])], handlers=event_handlers)

    assert len(db.scalars(select(WipeReport)).all()) == 1


def test_session_limits_of_a_site_go_to_its_pcs_only(db):
    site = make_site(db)
    pcs = [make_device(db, site), make_device(db, site)]
    make_device(db, site, kind=DeviceKind.HOTSPOT)
    admin = make_user(db, Role.ADMIN)

    issued = pc_usage.set_session_limits(db, admin, site, idle_timeout_min=10, max_session_min=90)

    assert sorted(c.device_id for c in issued) == sorted(p.id for p in pcs)
    assert {c.name for c in issued} == {CommandName.UPDATE_CONFIG}
    assert issued[0].args == {"idle_timeout_s": 600, "max_session_s": 5400}
    assert (site.idle_timeout_min, site.max_session_min) == (10, 90)


def test_session_limits_refuse_bad_values_and_people_who_may_not(db):
    site = make_site(db)
    admin = make_user(db, Role.ADMIN)
    with pytest.raises(DomainError, match="between 2 and 1440 minutes"):
        pc_usage.set_session_limits(db, admin, site, idle_timeout_min=1, max_session_min=None)
    with pytest.raises(DomainError, match="longest session"):
        pc_usage.set_session_limits(db, admin, site, idle_timeout_min=15, max_session_min=2)
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    with pytest.raises(PermissionDenied):
        pc_usage.set_session_limits(db, mediator, site, idle_timeout_min=15, max_session_min=None)
    assert site.idle_timeout_min == 15


def test_a_pc_enrolled_later_gets_its_sites_limits(db, app):
    site = make_site(db, idle_timeout_min=20, max_session_min=120)
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))

    answer = enrolment.enrol(
        db,
        enrol_request(issued.token),
        heartbeat_interval_s=10,
        starting_settings=enrolment.starting_settings_of(app),
    )

    assert answer.remote_settings is not None
    assert (answer.remote_settings.idle_timeout_s, answer.remote_settings.max_session_s) == (
        1200,
        7200,
    )
    assert db.scalars(select(Command)).all() == []  # nothing else in anyone's command list


def test_wipes_and_sessions_are_read_only_by_who_covers_the_pc(db):
    pc = make_device(db)
    elsewhere = make_user(db, Role.MEDIATOR, sites=[make_site(db)])
    with pytest.raises(PermissionDenied):
        pc_usage.recent_wipes(db, elsewhere, pc)
    with pytest.raises(PermissionDenied):
        pc_usage.recent_sessions(db, elsewhere, pc)
    here = make_user(db, Role.MEDIATOR, sites=[pc.site])
    assert pc_usage.recent_wipes(db, here, pc) == []
    assert pc_usage.recent_sessions(db, here, pc).count == 0


def test_pcs_that_read_the_sites_language_get_it_with_the_limits_and_older_ones_do_not(db):
    site = make_site(db)
    older = make_device(db, site, metrics={"state": {"session": "none"}})
    newer = make_device(db, site, metrics={"state": {"session": "none", "language": "fr"}})

    issued = pc_usage.set_session_limits(
        db, make_user(db, Role.ADMIN), site, idle_timeout_min=10, max_session_min=None,
        time_zone="America/Montreal",
    )  # fmt: skip

    args = {c.device_id: c.args for c in issued}
    assert args[older.id] == {"idle_timeout_s": 600, "max_session_s": 0}
    assert args[newer.id] == {
        "idle_timeout_s": 600, "max_session_s": 0,
        "site_language": "fr", "site_timezone": "America/Montreal",
    }  # fmt: skip


def test_the_desk_shows_which_pc_is_in_use_since_when_and_until_when(db):
    site = make_site(db)
    since, ends = (
        datetime(2026, 11, 22, 13, 0, tzinfo=UTC),
        datetime(2026, 11, 22, 14, 0, tzinfo=UTC),
    )
    state = {
        "session": "active",
        "session_since": since.isoformat(),
        "session_ends_at": ends.isoformat(),
    }
    make_device(db, site, name="pc-a", status="online", metrics={"state": state})
    make_device(db, site, name="pc-b", status="online", metrics={"state": {"session": "none"}})
    make_device(db, site, name="pc-c", status="offline", metrics={"state": state})
    make_device(db, site, name="gw", kind=DeviceKind.HOTSPOT)

    pcs = pc_usage.pcs_at_desk(db, make_user(db, Role.MEDIATOR, sites=[site]), site)

    assert [(p.device.name, p.online, p.in_use) for p in pcs] == [
        ("pc-a", True, True), ("pc-b", True, False), ("pc-c", False, False),
    ]  # fmt: skip
    assert (pcs[0].since, pcs[0].ends_at) == (since, ends)
    assert pcs[0].minutes_left(ends - timedelta(minutes=25)) == 25
    with pytest.raises(PermissionDenied):
        pc_usage.pcs_at_desk(db, make_user(db, Role.MEDIATOR, sites=[make_site(db)]), site)


def test_until_closing_goes_to_the_sites_closing_time_or_is_refused(db):
    site = make_site(db, opening_hours="Mo-Su 10:00-18:00")
    policy = pc_usage.SchedulePolicy(timezone="Europe/Paris")
    at_four = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 16:00 in Paris, closing at 18:00

    args = pc_usage.extension_args(db, site, until_closing=True, now=at_four, policy=policy)

    assert args == {"minutes": 15, "language": "fr", "time_zone": "Europe/Paris", "ends_in_s": 7200}
    unknown = make_site(db, opening_hours="")
    with pytest.raises(DomainError, match="no closing time"):
        pc_usage.extension_args(db, unknown, until_closing=True, now=at_four, policy=policy)
    assert "ends_in_s" not in pc_usage.extension_args(
        db, unknown, until_closing=False, now=at_four, policy=policy
    )
