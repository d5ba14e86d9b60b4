"""Alert rules (controller/maintenance/rules.py): a condition raises an alert once it has lasted
its tolerance, resolves it when it goes and says so; off-line counts only while the site is
open; each organisation may tune a rule, and bad tuning changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import event, func, select

from agent.protocol import DeviceKind, DiskUsage, Metrics, Printer, PrinterState
from controller.access import Role
from controller.audit import AuditLog
from controller.errors import DomainError, NotFound, PermissionDenied
from controller.fleet.models import DeviceStatus
from controller.maintenance import rules
from controller.maintenance import service as alerts
from controller.maintenance.models import Alert, AlertBreach, AlertKind, AlertRuleOverride
from controller.maintenance.web import alert_text
from controller.places import service as places
from tests.factories import make_device, make_hotspot, make_organisation, make_site, make_user

# Wednesday 2 December 2026 in Grenoble (UTC+1): the factory's sites open Mo-Fr 09:00-17:00.
OPENS = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 09:00 local
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 03:00 local
VERSION = "0.4.0"  # the controller's, in these tests


def heartbeat(db, device, at: datetime, **fields: Any) -> None:
    """The device online, its latest heartbeat as the ingest stores it (clock right)."""
    metrics = Metrics(
        **{
            "cpu_percent": 5.0,
            "memory_total_bytes": 4 << 30,
            "memory_used_bytes": 1 << 30,
            "memory_percent": 25.0,
            "uptime_s": 3600,
            "disks": [DiskUsage(mountpoint="/", total_bytes=100, used_bytes=40, percent=40.0)],
            **fields,
        }
    )
    if device.status != DeviceStatus.ONLINE:
        device.status = DeviceStatus.ONLINE
        device.status_changed_at = at
    device.metrics = {
        **msgspec.to_builtins(metrics),
        "state": device.metrics.get("state", {}) if device.metrics else {},
        "at": at.isoformat(),
        "received_at": at.isoformat(),
    }
    db.flush()


def went_offline(db, device, at: datetime) -> None:
    device.status = DeviceStatus.OFFLINE
    device.status_changed_at = at
    db.flush()


def evaluate(db, now: datetime) -> rules.Evaluation:
    return rules.evaluate(db, now, controller_version=VERSION)


def open_alerts(db, kind: AlertKind | None = None) -> list[Alert]:
    found = alerts.open_alerts(db, "system")
    return [a for a in found if kind is None or a.kind == kind]


def every_minute(db, device, start: datetime, minutes: int, **fields: Any) -> None:
    """Heartbeats with ``fields`` and an evaluation each minute, for ``minutes`` minutes."""
    for minute in range(minutes + 1):
        now = start + timedelta(minutes=minute)
        heartbeat(db, device, now, **fields)
        evaluate(db, now)


def test_a_ten_minute_cpu_spike_raises_nothing_thirty_minutes_do(db):
    pc = make_device(db, name="pc-accueil")
    every_minute(db, pc, OPENS, 10, cpu_percent=97.0)
    every_minute(db, pc, OPENS + timedelta(minutes=11), 2)  # the spike is over
    assert open_alerts(db) == []
    assert db.scalars(select(AlertBreach)).all() == []

    start = OPENS + timedelta(hours=1)
    every_minute(db, pc, start, 29, cpu_percent=97.0)
    assert open_alerts(db) == []  # 29 minutes in breach: not yet

    heartbeat(db, pc, start + timedelta(minutes=30), cpu_percent=97.0)
    done = evaluate(db, start + timedelta(minutes=30))

    (raised,) = open_alerts(db)
    assert done.raised == [raised] and raised.kind == AlertKind.CPU_HIGH
    assert raised.message == "The CPU of pc-accueil has been over 90 % for 30 min (97 % now)."

    heartbeat(db, pc, start + timedelta(minutes=31), cpu_percent=12.0)
    evaluate(db, start + timedelta(minutes=31))
    assert open_alerts(db) == [] and raised.resolution == "CPU at 12 %"


def test_memory_over_its_threshold_for_half_an_hour_raises_an_alert(db):
    pc = make_device(db)
    every_minute(db, pc, OPENS, 30, memory_percent=98.5)
    assert [a.kind for a in open_alerts(db)] == [AlertKind.MEMORY_HIGH]


def test_a_full_disk_raises_at_once_and_resolves_saying_how_full_it_is(db):
    pc = make_device(db, name="pc-1")
    full = [DiskUsage(mountpoint="/home", total_bytes=100, used_bytes=93, percent=93.0)]
    heartbeat(db, pc, OPENS, disks=full)

    evaluate(db, OPENS)

    (raised,) = open_alerts(db)
    assert raised.kind == AlertKind.DISK_FULL and "/home of pc-1 is 93 % full" in raised.message
    freed = [DiskUsage(mountpoint="/home", total_bytes=100, used_bytes=42, percent=42.0)]
    heartbeat(db, pc, OPENS + timedelta(minutes=1), disks=freed)
    evaluate(db, OPENS + timedelta(minutes=1))
    assert open_alerts(db) == [] and raised.resolution == "disk at 42 %"


def test_offline_at_night_raises_nothing(db):
    pc = make_device(db)  # the factory's site: Mo-Fr 09:00-17:00
    went_offline(db, pc, datetime(2026, 12, 1, 16, 15, tzinfo=UTC))  # shut down after closing

    for hour in range(0, 8):
        evaluate(db, NIGHT.replace(hour=hour))

    assert open_alerts(db) == []
    assert db.scalars(select(AlertBreach)).all() == []


def test_offline_in_opening_hours_raises_one_alert_that_resolves_when_back_online(db):
    pc = make_device(db, name="pc-2")
    went_offline(db, pc, datetime(2026, 12, 1, 16, 15, tzinfo=UTC))  # last night

    evaluate(db, OPENS + timedelta(minutes=5))
    (breach,) = db.scalars(select(AlertBreach)).all()
    assert breach.since == OPENS  # counted from the opening, not from last night
    evaluate(db, OPENS + timedelta(minutes=9))
    assert open_alerts(db) == []

    for minute in (10, 11, 30):
        evaluate(db, OPENS + timedelta(minutes=minute))

    (raised,) = db.scalars(select(Alert)).all()
    assert raised.kind == AlertKind.OFFLINE and raised.resolved_at is None
    assert raised.raised_at == OPENS + timedelta(minutes=10)
    assert raised.message == f"pc-2 is off-line while its site, {pc.site.name}, is open."

    heartbeat(db, pc, OPENS + timedelta(minutes=40))
    done = evaluate(db, OPENS + timedelta(minutes=41))

    assert done.resolved == [raised] and raised.resolution == "back online"
    assert open_alerts(db) == [] and db.scalars(select(AlertBreach)).all() == []


def test_offline_during_opening_hours_counts_from_when_it_went(db):
    pc = make_device(db)
    went_offline(db, pc, OPENS + timedelta(hours=2))

    evaluate(db, OPENS + timedelta(hours=2, minutes=9))
    assert open_alerts(db) == []
    evaluate(db, OPENS + timedelta(hours=2, minutes=10))
    assert [a.kind for a in open_alerts(db)] == [AlertKind.OFFLINE]


def test_an_open_offline_alert_waits_through_the_night_for_the_device(db):
    pc = make_device(db)
    went_offline(db, pc, OPENS + timedelta(hours=7))  # 16:00 local
    evaluate(db, OPENS + timedelta(hours=7, minutes=30))
    (raised,) = open_alerts(db)

    evaluate(db, NIGHT + timedelta(days=1))  # closed: nothing seen, nothing cured

    assert open_alerts(db) == [raised] and raised.resolved_at is None
    assert db.scalars(select(AlertBreach)).all() == []


def test_an_exceptional_closure_or_a_public_holiday_is_not_opening_hours(db):
    closed = make_site(db)
    places.add_closure(db, "cli", closed, date(2026, 12, 2), date(2026, 12, 2), "inventaire")
    pc = make_device(db, closed)
    went_offline(db, pc, NIGHT)
    holiday_pc = make_device(db)
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)  # a Friday
    went_offline(db, holiday_pc, christmas - timedelta(hours=12))

    evaluate(db, OPENS + timedelta(hours=3))
    evaluate(db, christmas)

    assert open_alerts(db) == []


def test_a_site_without_hours_counts_as_always_open(db):
    pc = make_device(db, make_site(db, opening_hours=""))
    went_offline(db, pc, NIGHT)

    evaluate(db, NIGHT + timedelta(minutes=10))

    assert [a.kind for a in open_alerts(db)] == [AlertKind.OFFLINE]


def test_the_same_trouble_stays_one_alert_however_many_evaluations(db):
    pc = make_device(db)
    full = [DiskUsage(mountpoint="/", total_bytes=100, used_bytes=99, percent=99.0)]
    for minute in range(5):
        heartbeat(db, pc, OPENS + timedelta(minutes=minute), disks=full)
        evaluate(db, OPENS + timedelta(minutes=minute))

    assert db.scalar(select(func.count()).select_from(Alert)) == 1


def test_an_organisation_overrides_a_rule_and_another_keeps_the_default(db):
    strict, other = make_organisation(db), make_organisation(db)
    tuned = make_device(db, make_site(db, strict))
    default = make_device(db, make_site(db, other))
    rules.set_override(db, "cli", strict.id, "cpu_high", threshold=50, tolerance_min=0)

    for pc in (tuned, default):
        heartbeat(db, pc, OPENS, cpu_percent=60.0)
    evaluate(db, OPENS)

    assert [a.device_id for a in open_alerts(db)] == [tuned.id]
    assert rules.effective_rules(db, strict.id)[AlertKind.CPU_HIGH] == rules.Rule(
        AlertKind.CPU_HIGH, 50.0, 0, enabled=True, overridden=True
    )
    assert rules.effective_rules(db, other.id)[AlertKind.CPU_HIGH] == rules.Rule(
        AlertKind.CPU_HIGH, 90.0, 30
    )


def test_an_override_without_a_threshold_keeps_the_default_threshold(db):
    organisation = make_organisation(db)
    rule = rules.set_override(db, "cli", organisation.id, "disk_full", None, tolerance_min=60)
    assert (rule.threshold, rule.tolerance_min) == (90.0, 60)


def test_a_rule_turned_off_raises_nothing_and_resolves_what_it_had_raised(db):
    organisation = make_organisation(db)
    pc = make_device(db, make_site(db, organisation))
    full = [DiskUsage(mountpoint="/", total_bytes=100, used_bytes=99, percent=99.0)]
    heartbeat(db, pc, OPENS, disks=full)
    evaluate(db, OPENS)
    (raised,) = open_alerts(db)

    rules.set_override(db, "cli", organisation.id, "disk_full", None, 0, enabled=False)
    evaluate(db, OPENS + timedelta(minutes=1))

    assert open_alerts(db) == [] and raised.resolution == "alert rule turned off"
    evaluate(db, OPENS + timedelta(minutes=2))
    assert open_alerts(db) == [] and db.scalars(select(AlertBreach)).all() == []


def test_a_device_out_of_service_raises_nothing(db):
    pc = make_device(db)
    pc.out_of_service_since = OPENS - timedelta(days=1)
    every_minute(db, pc, OPENS, 60, cpu_percent=99.0)
    went_offline(db, pc, OPENS + timedelta(hours=2))
    evaluate(db, OPENS + timedelta(hours=3))

    assert open_alerts(db) == []
    assert db.scalars(select(AlertBreach)).all() == []


def test_a_retired_device_is_not_evaluated(db):
    pc = make_device(db, retired_at=NIGHT)
    went_offline(db, pc, NIGHT)
    evaluate(db, OPENS + timedelta(hours=1))
    assert open_alerts(db) == []


def test_an_agent_older_than_the_controller_raises_an_alert_after_a_week(db):
    old = make_device(db, name="pc-old", inventory={"agent_version": "0.3.2"})
    make_device(db, inventory={"agent_version": VERSION})
    make_device(db, inventory={"agent_version": "not a version"})
    make_device(db, inventory={"agent_version": ""})
    make_device(db, inventory={})

    evaluate(db, OPENS)
    evaluate(db, OPENS + timedelta(days=7) - timedelta(minutes=1))
    assert open_alerts(db) == []
    evaluate(db, OPENS + timedelta(days=7))

    (raised,) = open_alerts(db)
    assert raised.device_id == old.id and raised.kind == AlertKind.AGENT_OUTDATED
    assert "pc-old is at version 0.3.2, older than the controller's 0.4.0" in raised.message

    old.inventory = {"agent_version": "0.4.0"}
    evaluate(db, OPENS + timedelta(days=7, minutes=1))
    assert open_alerts(db) == [] and raised.resolution == "agent at version 0.4.0"


def test_agents_are_compared_with_the_installed_controller(db):
    assert rules.own_version()  # borne is installed in the test environment
    make_device(db, inventory={"agent_version": "0.0.1"})
    rules.evaluate(db, OPENS)
    rules.evaluate(db, OPENS + timedelta(days=8))
    assert [a.kind for a in open_alerts(db)] == [AlertKind.AGENT_OUTDATED]


def test_a_stopped_printer_raises_an_alert_after_ten_minutes_and_resolves(db):
    pc = make_device(db, name="pc-print")
    jammed = [
        Printer(
            name="hall",
            state=PrinterState.STOPPED,
            reasons=["media-jam-error"],
            message="Paper jam",
        ),
        Printer(name="office", state=PrinterState.IDLE),
    ]
    every_minute(db, pc, OPENS, 10, printers=jammed)

    (raised,) = open_alerts(db)
    assert raised.kind == AlertKind.PRINTER_ERROR
    assert "A printer of pc-print stopped: hall (media-jam-error: Paper jam)" in raised.message

    idle = [Printer(name="hall", state=PrinterState.IDLE), Printer("office", PrinterState.IDLE)]
    heartbeat(db, pc, OPENS + timedelta(minutes=11), printers=idle)
    evaluate(db, OPENS + timedelta(minutes=11))
    assert open_alerts(db) == [] and raised.resolution == "no printer in error any more"


def test_a_printer_switched_off_at_night_is_not_in_error(db):
    pc = make_device(db)
    off = [Printer(name="hall", state=PrinterState.IDLE, reasons=["offline-report"])]
    every_minute(db, pc, NIGHT, 30, printers=off)
    assert open_alerts(db) == []


def test_a_hotspot_whose_portal_stopped_raises_an_alert(db):
    hotspot = make_hotspot(db, name="wifi-hall")
    hotspot.metrics = {"state": {"portal": "not running"}}
    every_minute(db, hotspot, OPENS, 5)

    (raised,) = open_alerts(db)
    assert raised.kind == AlertKind.PORTAL_DOWN and "wifi-hall" in raised.message

    hotspot.metrics = {"state": {"portal": "running", "portal_clients": "3"}}
    heartbeat(db, hotspot, OPENS + timedelta(minutes=6))
    evaluate(db, OPENS + timedelta(minutes=6))
    assert open_alerts(db) == [] and raised.resolution == "the portal runs again"


def test_a_pc_says_nothing_of_a_portal(db):
    pc = make_device(db, kind=DeviceKind.PC)
    pc.metrics = {"state": {"portal": "not running"}}  # whatever an odd agent sends
    every_minute(db, pc, OPENS, 10)
    assert open_alerts(db) == []


def test_the_clock_check_is_a_rule_raised_at_once_and_resolved(db):
    pc = make_device(db, name="pc-fast")
    heartbeat(db, pc, OPENS)
    pc.metrics = {**pc.metrics, "at": (OPENS + timedelta(minutes=6, seconds=12)).isoformat()}

    evaluate(db, OPENS)

    (raised,) = open_alerts(db)
    assert raised.kind == AlertKind.CLOCK_OFF and "6 min 12 s ahead" in raised.message
    heartbeat(db, pc, OPENS + timedelta(minutes=1))
    evaluate(db, OPENS + timedelta(minutes=1))
    assert open_alerts(db) == [] and raised.resolution == "its clock is right again"


def test_an_offline_device_neither_raises_nor_cures_what_its_old_heartbeat_said(db):
    pc = make_device(db)
    full = [DiskUsage(mountpoint="/", total_bytes=100, used_bytes=99, percent=99.0)]
    heartbeat(db, pc, OPENS, disks=full)
    evaluate(db, OPENS)
    (raised,) = open_alerts(db, AlertKind.DISK_FULL)

    went_offline(db, pc, OPENS + timedelta(hours=8))  # after closing: no offline alert either
    evaluate(db, OPENS + timedelta(hours=9))

    assert open_alerts(db) == [raised]


def statements_of(db, run) -> int:
    counted = []
    engine = db.get_bind().engine

    def count(*args: Any) -> None:
        counted.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(counted)


def test_an_evaluation_costs_the_same_few_queries_for_3_or_30_devices(db):
    site = make_site(db)
    for _ in range(3):
        heartbeat(db, make_device(db, site), OPENS)
    went_offline(db, make_device(db, site), OPENS)
    evaluate(db, OPENS)  # the fleet settles: nothing to raise or resolve below

    few = statements_of(db, lambda: evaluate(db, OPENS + timedelta(minutes=1)))
    for _ in range(27):
        heartbeat(db, make_device(db, make_site(db)), OPENS)
        went_offline(db, make_device(db, site), OPENS)
    evaluate(db, OPENS + timedelta(minutes=2))
    many = statements_of(db, lambda: evaluate(db, OPENS + timedelta(minutes=3)))

    assert many == few <= 8


# --- tuning the rules -------------------------------------------------------------------------


def test_setting_and_clearing_an_override_is_audited(db):
    organisation = make_organisation(db, name="Bibliothèques")
    admin = make_user(db, Role.ADMIN)

    rules.set_override(db, admin, organisation.id, "cpu_high", 80, 15)
    rule = rules.clear_override(db, admin, organisation.id, "cpu_high")
    rules.clear_override(db, admin, organisation.id, "cpu_high")  # nothing left: nothing done

    assert rule == rules.Rule(AlertKind.CPU_HIGH, 90.0, 30)
    entries = db.scalars(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(e.action, e.target_type, e.target_id, e.actor) for e in entries] == [
        ("alert_rule.set", "organisation", str(organisation.id), admin.username),
        ("alert_rule.clear", "organisation", str(organisation.id), admin.username),
    ]
    assert entries[0].summary == "alert rule cpu_high of Bibliothèques: over 80 % for 15 min"
    assert entries[0].detail["before"]["threshold"] == 90.0
    assert entries[1].summary.endswith("back to the default: over 90 % for 30 min")
    assert db.scalars(select(AlertRuleOverride)).all() == []


@pytest.mark.parametrize(
    ("kind", "threshold", "tolerance", "error"),
    [
        ("cpu_hot", 50, 10, NotFound),  # no such rule
        ("wipe_incomplete", None, 0, NotFound),  # raised by wipe reports, not a rule
        ("cpu_high", 101, 10, DomainError),  # a percentage over 100
        ("disk_full", -1, 10, DomainError),
        ("memory_high", float("nan"), 10, DomainError),
        ("cpu_high", 50, -5, DomainError),  # a negative tolerance
        ("cpu_high", 50, rules.MAX_TOLERANCE_MIN + 1, DomainError),
        ("offline", 50, 10, DomainError),  # off-line takes no threshold
        ("printer_error", 1, 10, DomainError),
        ("clock_off", 0, 0, DomainError),  # a clock is never exactly right
    ],
)
def test_a_malformed_override_is_refused_and_changes_nothing(db, kind, threshold, tolerance, error):
    organisation = make_organisation(db)
    rules.set_override(db, "cli", organisation.id, "cpu_high", 70, 5)
    audited = db.scalar(select(func.count()).select_from(AuditLog))

    with pytest.raises(error) as refused:
        rules.set_override(db, "cli", organisation.id, kind, threshold, tolerance)

    assert 400 <= refused.value.status < 500 and refused.value.message
    assert rules.effective_rules(db, organisation.id)[AlertKind.CPU_HIGH] == rules.Rule(
        AlertKind.CPU_HIGH, 70.0, 5, overridden=True
    )
    assert len(db.scalars(select(AlertRuleOverride)).all()) == 1
    assert db.scalar(select(func.count()).select_from(AuditLog)) == audited


def test_an_unknown_organisation_is_not_found(db):
    with pytest.raises(NotFound):
        rules.set_override(db, "cli", 987654, "cpu_high", 70, 5)


def test_who_may_tune_an_organisations_rules(db):
    organisation = make_organisation(db)
    site = make_site(db, organisation)
    allowed = [
        make_user(db, Role.ADMIN),
        make_user(db, Role.TECHNICIAN, organisations=[organisation]),
    ]
    refused = [
        make_user(db, Role.TECHNICIAN, organisations=[make_organisation(db)]),
        make_user(db, Role.TECHNICIAN, sites=[site]),  # one site is not the organisation
        make_user(db, Role.MEDIATOR, organisations=[organisation]),
        make_user(db, Role.MANAGER, organisations=[organisation]),
        make_user(db, Role.ADMIN, active=False),
    ]
    for user in allowed:
        rules.set_override(db, user, organisation.id, "offline", None, 20)
    for user in refused:
        with pytest.raises(PermissionDenied):
            rules.set_override(db, user, organisation.id, "offline", None, 30)
        with pytest.raises(PermissionDenied):
            rules.clear_override(db, user, organisation.id, "offline")

    assert rules.effective_rules(db, organisation.id)[AlertKind.OFFLINE].tolerance_min == 20


def test_each_reader_sees_the_rules_of_the_organisations_they_cover(db):
    mine, theirs = make_organisation(db, name="AAA mine"), make_organisation(db, name="AAB other")
    by_site = make_organisation(db, name="AAC by site")
    mediator = make_user(db, Role.MEDIATOR, organisations=[mine], sites=[make_site(db, by_site)])

    seen = [o.id for o, _ in rules.visible_rules(db, mediator)]
    every = [o.id for o, _ in rules.visible_rules(db, make_user(db, Role.ADMIN))]

    assert seen == [mine.id, by_site.id]
    assert {mine.id, theirs.id, by_site.id} <= set(every)


def test_each_rules_alert_reads_in_the_readers_language(app, db):
    pc = make_device(db, name="pc-7", inventory={"agent_version": "0.3.2"})
    full = [DiskUsage(mountpoint="/home", total_bytes=100, used_bytes=93, percent=93.0)]
    jammed = [Printer(name="hall", state=PrinterState.STOPPED, reasons=["media-jam-error"])]
    heartbeat(db, pc, OPENS, disks=full, printers=jammed, cpu_percent=97.0)

    with app.test_request_context(headers={"Accept-Language": "fr"}):
        said = {
            kind: alert_text(Alert(kind=kind, device=pc, message="stored in English"))
            for kind in rules.DEFAULTS
        }

    assert all("pc-7" in text and text != "stored in English" for text in said.values())
    assert said[AlertKind.DISK_FULL].startswith("Le disque /home de pc-7 est plein à 93 % :")
    assert "(97 % à son dernier signal)" in said[AlertKind.CPU_HIGH]
    assert "(hall (media-jam-error))" in said[AlertKind.PRINTER_ERROR]
    assert "en version 0.3.2" in said[AlertKind.AGENT_OUTDATED]
    assert said[AlertKind.OFFLINE].startswith("pc-7 ne répond pas alors que son lieu est ouvert")
