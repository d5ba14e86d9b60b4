"""Charging kiosks' lockers on the controller (controller/lockers/service.py): what the kiosks
report arrives as agent events through the ingest, each stored once and in the kiosk's order;
incidents raise and resolve alerts (with their tickets); staff openings go to the audit log; a
remote opening is a command only admins and technicians of the place may send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from agent import protocol
from agent.protocol import ChargingEnd, CommandName, LockerIncidentKind, LockerState
from controller.access import Role
from controller.audit import AuditLog
from controller.commands.models import Command, CommandState
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied
from controller.fleet.condition import Concern, concern_finders, device_conditions
from controller.fleet.models import DeviceStatus
from controller.lockers import service as lockers
from controller.lockers.models import ChargingSession, Locker, LockerBank
from controller.maintenance import service as alerts
from controller.maintenance.models import Alert, AlertKind, Ticket
from tests.factories import make_device, make_site, make_user

NOW = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)  # when the lockers_report fixture's reports are


def stored_states(db, device) -> dict[int, str]:
    return {
        locker.number: locker.state
        for locker in db.scalars(select(Locker).where(Locker.device_id == device.id))
    }


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


# --- lockers reports -------------------------------------------------------------------------


def test_a_report_replaces_the_kiosks_lockers(db, make_kiosk, send_events, lockers_report):
    kiosk = make_kiosk()
    send_events(kiosk, lockers_report(1, n3=LockerState.OCCUPIED))
    later = NOW + timedelta(minutes=1)

    send_events(kiosk, lockers_report(2, later, {1: LockerState.DEPOSIT, 2: LockerState.OVERTIME}))

    assert stored_states(db, kiosk) == {1: LockerState.DEPOSIT, 2: LockerState.OVERTIME}
    bank = db.get(LockerBank, kiosk.id)
    assert bank.reported_at == later and bank.driver_ok


def test_an_older_report_arriving_late_never_overwrites_a_newer_one(
    db, make_kiosk, send_events, lockers_report
):
    kiosk = make_kiosk()
    fresh = lockers_report(5, NOW, n2=LockerState.OCCUPIED)
    # Spooled during an outage and numbered after: the kiosk's clock says it is older.
    stale = lockers_report(6, NOW - timedelta(minutes=10), driver_ok=False)

    send_events(kiosk, fresh)
    send_events(kiosk, stale)

    assert stored_states(db, kiosk)[2] == LockerState.OCCUPIED
    bank = db.get(LockerBank, kiosk.id)
    assert bank.reported_at == NOW and bank.driver_ok


def test_a_replayed_report_is_stored_once(db, make_kiosk, send_events, lockers_report):
    kiosk = make_kiosk()
    first = lockers_report(1, n1=LockerState.OCCUPIED)
    send_events(kiosk, first)

    answer = send_events(kiosk, first)

    assert (answer.duplicates, answer.events_stored) == (1, 0)
    assert stored_states(db, kiosk)[1] == LockerState.OCCUPIED and count(db, Locker) == 8


def test_a_locker_that_did_not_change_keeps_when_it_last_did(
    db, make_kiosk, send_events, lockers_report
):
    kiosk = make_kiosk()
    send_events(kiosk, lockers_report(1, since=NOW, n1=LockerState.OCCUPIED))
    first_seen = {n: db.get(Locker, (kiosk.id, n)).updated_at for n in (1, 2)}

    # Reports come with every heartbeat's period: most of them change nothing.
    lockers.lockers_event(
        db,
        kiosk,
        lockers_report(
            2,
            NOW + timedelta(seconds=30),
            since=NOW,
            n1=LockerState.OCCUPIED,
            n2=LockerState.OCCUPIED,
        ),
        NOW + timedelta(hours=1),
    )

    assert db.get(Locker, (kiosk.id, 1)).updated_at == first_seen[1]
    assert db.get(Locker, (kiosk.id, 2)).updated_at == NOW + timedelta(hours=1)


def test_a_report_says_when_the_lock_board_does_not_answer(
    db, make_kiosk, send_events, lockers_report
):
    kiosk = make_kiosk()

    send_events(
        kiosk, lockers_report(1, driver_ok=False, driver_message="no answer on /dev/ttyUSB0")
    )

    bank = db.get(LockerBank, kiosk.id)
    assert not bank.driver_ok and bank.driver_message == "no answer on /dev/ttyUSB0"


# --- charging sessions -----------------------------------------------------------------------


def charged(seq, minutes=42, ended_by=ChargingEnd.CODE, locker=3, started=NOW):
    return protocol.ChargingSession(
        seq=seq,
        at=started + timedelta(minutes=minutes),
        locker=locker,
        started_at=started,
        ended_at=started + timedelta(minutes=minutes),
        ended_by=ended_by,
    )


def test_a_phone_charged_is_stored_anonymously_once(db, make_kiosk, send_events):
    kiosk = make_kiosk()

    send_events(kiosk, charged(1))
    send_events(kiosk, charged(1))  # the kiosk's spool replays it

    (row,) = db.scalars(select(ChargingSession)).all()
    assert (row.device_id, row.site_id, row.locker) == (kiosk.id, kiosk.site_id, 3)
    assert row.duration_s == 42 * 60 and row.ended_by == ChargingEnd.CODE


def test_a_charging_session_handled_twice_is_counted_once(db, make_kiosk):
    # Two controller processes, or a flush retried: the handler itself runs twice.
    kiosk = make_kiosk()
    event = charged(7, ended_by=ChargingEnd.REMOTE)

    lockers.charging_event(db, kiosk, event, NOW)
    lockers.charging_event(db, kiosk, event, NOW)

    assert count(db, ChargingSession) == 1


def test_charging_sessions_between_gives_those_started_in_the_period_at_the_sites(
    db, make_kiosk, send_events
):
    site, other = make_site(db), make_site(db)
    kiosk, elsewhere = make_kiosk(site), make_kiosk(other)
    send_events(
        kiosk,
        charged(1, started=NOW - timedelta(days=1)),
        charged(2, minutes=10, started=NOW),
        charged(3, minutes=95, started=NOW + timedelta(hours=3)),
        charged(4, started=NOW + timedelta(days=1)),
    )
    send_events(elsewhere, charged(1, started=NOW))

    found = lockers.charging_sessions_between(db, [site.id], NOW, NOW + timedelta(days=1))

    assert [(r.duration_s, r.site_id) for r in found] == [(600, site.id), (95 * 60, site.id)]
    assert lockers.charging_sessions_between(db, [], NOW, NOW + timedelta(days=1)) == []


# --- incidents as alerts ----------------------------------------------------------------------


def incident(seq, kind, locker=None, *, resolved=False, message=""):
    return protocol.LockerIncident(
        seq=seq,
        at=NOW + timedelta(seconds=seq),
        kind=kind,
        locker=locker,
        resolved=resolved,
        message=message,
    )


def test_an_overtime_raises_an_alert_that_opens_a_ticket_and_resolves_with_the_kiosk(
    db, make_kiosk, send_events
):
    kiosk = make_kiosk(name="borne-hall")

    send_events(kiosk, incident(1, LockerIncidentKind.OVERTIME, 3))

    (alert,) = alerts.open_alerts(db, "system")
    assert alert.kind == AlertKind.LOCKER_OVERTIME and alert.device_id == kiosk.id
    assert alert.message == (
        "Locker 3: a phone is past the site's longest charging time at borne-hall: the locker "
        "stays shut until a member of staff opens it."
    )
    ticket = db.get(Ticket, alert.ticket_id)
    assert ticket is not None and ticket.device_id == kiosk.id

    send_events(kiosk, incident(2, LockerIncidentKind.OVERTIME, 3, resolved=True))

    assert alerts.open_alerts(db, "system") == []
    assert db.get(Alert, alert.id).resolution == "the kiosk reported it over"
    assert db.get(Ticket, ticket.id).cause_gone_at is not None


def test_two_lockers_past_their_time_are_one_alert_until_the_last_is_opened(
    db, make_kiosk, send_events
):
    kiosk = make_kiosk()
    send_events(
        kiosk,
        incident(1, LockerIncidentKind.OVERTIME, 3),
        incident(2, LockerIncidentKind.OVERTIME, 5),
    )

    (alert,) = alerts.open_alerts(db, "system")
    assert alert.message.startswith("Lockers 3, 5: ")

    send_events(kiosk, incident(3, LockerIncidentKind.OVERTIME, 3, resolved=True))

    (still,) = alerts.open_alerts(db, "system")
    assert still.id == alert.id and still.message.startswith("Locker 5: ")

    send_events(kiosk, incident(4, LockerIncidentKind.OVERTIME, 5, resolved=True))
    assert alerts.open_alerts(db, "system") == []


def test_both_kinds_of_door_trouble_share_one_alert(db, make_kiosk, send_events):
    kiosk = make_kiosk()
    send_events(
        kiosk,
        incident(1, LockerIncidentKind.DOOR_OPEN, 2),
        incident(2, LockerIncidentKind.DOOR_SHUT_EMPTY, 6),
        incident(3, LockerIncidentKind.DOOR_OPEN, 2, resolved=True),
    )

    (alert,) = alerts.open_alerts(db, "system")
    assert alert.kind == AlertKind.LOCKER_DOOR and alert.message.startswith("Locker 6: ")


@pytest.mark.parametrize(
    ("kind", "alert_kind", "start"),
    [
        (LockerIncidentKind.DRIVER_DOWN, AlertKind.LOCKER_DRIVER, "The lock board of"),
        (LockerIncidentKind.KEYPAD_PAUSED, AlertKind.KEYPAD_PAUSED, "The keypad of"),
        (LockerIncidentKind.FORGOTTEN, AlertKind.LOCKER_FORGOTTEN, "Locker 4: a phone is still"),
    ],
)
def test_each_incident_raises_its_alert_with_what_the_kiosk_said(
    db, make_kiosk, send_events, kind, alert_kind, start
):
    kiosk = make_kiosk()
    locker = 4 if kind == LockerIncidentKind.FORGOTTEN else None

    send_events(kiosk, incident(1, kind, locker, message="seen at 19:00"))

    (alert,) = alerts.open_alerts(db, "system")
    assert alert.kind == alert_kind and alert.message.startswith(start)
    assert alert.message.endswith("The kiosk says: seen at 19:00")


def test_an_incident_over_that_never_began_resolves_nothing(db, make_kiosk, send_events):
    kiosk = make_kiosk()

    send_events(kiosk, incident(1, LockerIncidentKind.DRIVER_DOWN, resolved=True))

    assert count(db, Alert) == 0


# --- staff openings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "how"), [(False, "at the kiosk with their PIN"), (True, "from the controller")]
)
def test_a_staff_opening_is_audited_with_who_and_why(db, make_kiosk, send_events, remote, how):
    kiosk = make_kiosk(name="borne-hall")
    opened = protocol.StaffOpening(
        seq=1, at=NOW, locker=3, staff="mia", reason="phone forgotten yesterday", remote=remote
    )

    send_events(kiosk, opened)

    entry = db.scalars(select(AuditLog).where(AuditLog.action == "locker.open")).one()
    assert (entry.actor, entry.actor_id) == ("mia", None)
    assert (entry.target_type, entry.target_id) == ("device", kiosk.id)
    assert entry.summary == f"locker 3 of borne-hall opened {how}: phone forgotten yesterday"
    assert entry.detail["reason"] == "phone forgotten yesterday" and entry.detail["locker"] == 3
    assert entry.detail["remote"] is remote


# --- what staff see ----------------------------------------------------------------------------


def test_a_site_shows_each_kiosk_in_service_with_its_lockers_free(
    db, make_kiosk, send_events, lockers_report
):
    site = make_site(db)
    kiosk = make_kiosk(site, name="b-kiosk")
    silent = make_kiosk(site, name="a-kiosk")
    make_device(db, site)  # a public PC: no lockers
    make_kiosk(site, retired_at=NOW)
    send_events(
        kiosk,
        lockers_report(
            1,
            n1=LockerState.OCCUPIED,
            n2=LockerState.OCCUPIED,
            n3=LockerState.OVERTIME,
            n4=LockerState.OUT_OF_ORDER,
            n5=LockerState.DEPOSIT,
            n6=LockerState.OCCUPIED,
        ),
    )

    found = lockers.site_lockers(db, make_user(db, Role.MANAGER, sites=[site]), site)

    assert [k.device.id for k in found] == [silent.id, kiosk.id]
    assert found[0].bank is None and found[0].total == 0
    assert (found[1].free, found[1].total, found[1].troubled) == (2, 8, 2)


def test_nobody_sees_the_lockers_of_a_place_they_do_not_cover(db, reported_kiosk):
    outsider = make_user(db, Role.MEDIATOR, sites=[make_site(db)])

    with pytest.raises(PermissionDenied):
        lockers.site_lockers(db, outsider, reported_kiosk.site)
    with pytest.raises(PermissionDenied):
        lockers.lockers_of(db, outsider, reported_kiosk)


def test_the_public_count_offers_only_lockers_a_resident_can_take_now(
    db, make_kiosk, send_events, lockers_report
):
    site, quiet = make_site(db), make_site(db)
    online, broken, away = make_kiosk(site), make_kiosk(site), make_kiosk(site)
    send_events(online, lockers_report(1, n1=LockerState.OCCUPIED))
    send_events(broken, lockers_report(1, driver_ok=False))
    send_events(away, lockers_report(1, NOW, {1: LockerState.FREE, 2: LockerState.FREE}))
    away.status = DeviceStatus.OFFLINE  # its lockers' state is old news
    db.flush()

    assert lockers.free_lockers_by_site(db, [site.id, quiet.id]) == {site.id: (7, 18)}
    assert lockers.free_lockers_by_site(db, []) == {}


def test_a_kiosk_with_a_locker_past_its_time_or_out_of_order_is_flagged(
    app, db, make_kiosk, send_events, lockers_report
):
    fine, late, broken = make_kiosk(), make_kiosk(), make_kiosk()
    send_events(fine, lockers_report(1, n1=LockerState.OCCUPIED))
    send_events(late, lockers_report(1, n2=LockerState.OVERTIME))
    send_events(broken, lockers_report(1, n8=LockerState.OUT_OF_ORDER))

    conditions = device_conditions(db, [fine, late, broken], concern_finders(app))

    assert Concern.LOCKER_TROUBLE not in conditions[fine.id].concerns
    assert Concern.LOCKER_TROUBLE in conditions[late.id].concerns
    assert Concern.LOCKER_TROUBLE in conditions[broken.id].concerns


# --- a remote opening --------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.TECHNICIAN])
def test_admins_and_technicians_of_the_place_open_a_locker_from_afar(db, reported_kiosk, role):
    user = make_user(db, role, sites=[reported_kiosk.site])

    command = lockers.request_open(db, user, reported_kiosk, 3, "  phone   past its time ")

    assert command.name == CommandName.OPEN_LOCKER and command.device_id == reported_kiosk.id
    assert command.args == {"locker": 3, "staff": user.username, "reason": "phone past its time"}
    assert command.state == CommandState.SENT  # pushed at once to the kiosk online
    asked = db.scalars(select(AuditLog).where(AuditLog.action == "locker.open_requested")).one()
    assert asked.actor_id == user.id and asked.detail["reason"] == "phone past its time"
    assert asked.detail["command_id"] == command.id


@pytest.mark.parametrize("role", [Role.MEDIATOR, Role.MANAGER])
def test_mediators_and_managers_may_not_open_a_locker_from_afar(db, reported_kiosk, role):
    user = make_user(db, role, sites=[reported_kiosk.site])

    with pytest.raises(PermissionDenied) as refused:
        lockers.request_open(db, user, reported_kiosk, 3, "a resident asks")

    assert "open it at the kiosk with your PIN" in refused.value.message
    assert not lockers.may_open(user, reported_kiosk)
    assert count(db, Command) == 0


def test_a_technician_of_another_place_may_not_open_a_locker(db, reported_kiosk):
    outsider = make_user(db, Role.TECHNICIAN, sites=[make_site(db)])

    with pytest.raises(PermissionDenied, match="outside the places you cover"):
        lockers.request_open(db, outsider, reported_kiosk, 3, "jammed")


@pytest.mark.parametrize(
    ("number", "reason", "error", "words"),
    [
        (0, "jammed", NotFound, "borne-hall has no locker 0: its lockers are 1 to 8"),
        (99, "jammed", NotFound, "borne-hall has no locker 99"),
        (3, "", DomainError, "say why you open the locker"),
        (3, "   ", DomainError, "say why you open the locker"),
        (3, "x" * 201, DomainError, "the reason is 200 characters at most"),
    ],
)
def test_a_remote_opening_refuses_bad_input_and_sends_nothing(
    db, reported_kiosk, number, reason, error, words
):
    admin = make_user(db, Role.ADMIN)

    with pytest.raises(error) as refused:
        lockers.request_open(db, admin, reported_kiosk, number, reason)

    assert words in refused.value.message and refused.value.status in (404, 422)
    assert count(db, Command) == 0


def test_a_device_that_is_not_a_kiosk_has_no_locker_to_open(db):
    pc = make_device(db, name="pc-accueil")

    with pytest.raises(NotFound, match="pc-accueil is not a charging kiosk"):
        lockers.request_open(db, make_user(db, Role.ADMIN), pc, 1, "jammed")


def test_a_kiosk_that_never_reported_its_lockers_cannot_be_asked_to_open_one(db, make_kiosk):
    kiosk = make_kiosk(name="borne-neuve")

    with pytest.raises(Conflict, match="has not reported its lockers yet"):
        lockers.request_open(db, make_user(db, Role.ADMIN), kiosk, 1, "jammed")
