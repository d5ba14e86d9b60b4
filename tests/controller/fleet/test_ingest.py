"""Agent events in (controller/fleet/ingest.py): stored once, acknowledged after commit, in
order."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from agent.protocol import (
    Heartbeat,
    Inventory,
    InventoryReport,
    Metrics,
    SessionEnd,
    SessionRecord,
)
from controller import migrate, signals
from controller.audit import AuditLog
from controller.db import Database, utcnow
from controller.fleet.ingest import (
    EventHandlers,
    EventIngest,
    EventsRefused,
    HeartbeatHistory,
    IngestUnavailable,
    LiveMessage,
    _Pending,
    check_dates,
    prune_events,
    write_events,
)
from controller.fleet.models import DeviceEvent, DeviceStatus
from tests.factories import make_device, make_site
from tests.polling import wait_for
from tests.postgres import create_database

METRICS = Metrics(
    cpu_percent=12.0,
    memory_total_bytes=8 << 30,
    memory_used_bytes=2 << 30,
    memory_percent=25.0,
    uptime_s=600,
    users=["borne-guest"],
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def heartbeat(seq: int, interval_s: int = 10) -> Heartbeat:
    return Heartbeat(seq=seq, at=datetime.now(UTC), interval_s=interval_s, metrics=METRICS)


def stored_seqs(db, device_id: str) -> list[int]:
    return list(
        db.scalars(
            select(DeviceEvent.seq)
            .where(DeviceEvent.device_id == device_id)
            .order_by(DeviceEvent.seq)
        )
    )


def test_first_heartbeat_brings_a_new_device_online_with_its_metrics(db):
    device = make_device(db)
    pending = _Pending(device.id, [heartbeat(1, interval_s=30)])

    report = write_events(db, [pending])
    db.expire_all()

    assert pending.ack.acked_seq == 1 and pending.ack.stored == 1
    assert device.status == DeviceStatus.ONLINE
    assert device.metrics["cpu_percent"] == 12.0 and device.heartbeat_interval_s == 30
    assert [(u.previous_status, u.status) for u in report.devices] == [
        (DeviceStatus.NEW, DeviceStatus.ONLINE)
    ]


def test_replayed_events_are_acknowledged_but_stored_once(db):
    device = make_device(db)
    write_events(db, [_Pending(device.id, [heartbeat(1), heartbeat(2)])])

    replay = _Pending(device.id, [heartbeat(1), heartbeat(2), heartbeat(3)])
    write_events(db, [replay])

    assert (replay.ack.acked_seq, replay.ack.stored, replay.ack.duplicates) == (3, 1, 2)
    assert stored_seqs(db, device.id) == [1, 2, 3]


def test_batches_of_several_devices_are_written_together(db):
    site = make_site(db)
    devices = [make_device(db, site) for _ in range(5)]
    batch = [_Pending(d.id, [heartbeat(1)]) for d in devices]

    report = write_events(db, batch)

    assert report.events_stored == 5
    assert db.scalar(select(func.count()).select_from(DeviceEvent)) == 5
    assert all(p.ack.acked_seq == 1 for p in batch)


def _inventory_report(hostname: str) -> InventoryReport:
    inventory = Inventory(
        hostname=hostname,
        os_name="Debian",
        os_version="12",
        kernel="6.1",
        cpu_model="Celeron",
        cpu_count=2,
        ram_bytes=4 << 30,
        serial="SN123",
    )
    return InventoryReport(seq=1, at=datetime.now(UTC), inventory=inventory)


def test_inventory_report_updates_the_device_record(db):
    device = make_device(db, name="pc-salle-1", inventory={"hostname": "pc-salle-1"})

    write_events(db, [_Pending(device.id, [_inventory_report("pc-salle-2")])])
    db.expire_all()

    # Called by its host name, it follows the new one.
    assert device.name == "pc-salle-2" and device.inventory["serial"] == "SN123"


def test_a_name_staff_gave_outlives_a_new_host_name(db):
    device = make_device(db, name="PC by the window", inventory={"hostname": "pc-salle-1"})

    write_events(db, [_Pending(device.id, [_inventory_report("pc-salle-2")])])
    db.expire_all()

    assert device.name == "PC by the window"
    assert device.inventory["hostname"] == "pc-salle-2"


def test_events_of_an_unknown_device_are_refused(db):
    pending = _Pending("00000000-0000-0000-0000-000000000000", [heartbeat(1)])
    write_events(db, [pending])
    assert pending.ack is None and "no longer enrolled" in pending.error


def test_writer_acknowledges_only_after_commit_and_announces_status_changes(sqlite_url):
    database = Database(sqlite_url)
    with database.session() as session:
        device_id = make_device(session).id
    changes = []

    def receiver(sender, **kwargs):
        changes.append((sender, kwargs["old"], kwargs["new"]))

    signals.device_status_changed.connect(receiver)
    ingest = EventIngest(
        database, spawn=lambda run: threading.Thread(target=run, daemon=True).start()
    )
    try:
        ack = ingest.submit(device_id, [heartbeat(2), heartbeat(1)])  # out of order on purpose
        # Durable: a new connection sees both events.
        with database.session() as session:
            assert stored_seqs(session, device_id) == [1, 2]
        assert ack.acked_seq == 2
        assert changes == [(device_id, DeviceStatus.NEW, DeviceStatus.ONLINE)]
    finally:
        signals.device_status_changed.disconnect(receiver)
        ingest.stop()
        database.dispose()

    with pytest.raises(IngestUnavailable):
        ingest.submit(device_id, [heartbeat(3)])


def test_heartbeat_history_keeps_one_per_period_but_every_heartbeat_counts(db):
    device = make_device(db)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    beats = [
        Heartbeat(seq=n + 1, at=start + timedelta(seconds=10 * n), interval_s=10, metrics=METRICS)
        for n in range(13)
    ]  # two minutes of heartbeats
    pending = _Pending(device.id, beats)

    write_events(db, [pending], HeartbeatHistory(60))
    db.expire_all()

    assert stored_seqs(db, device.id) == [1, 7, 13]  # one a minute
    assert pending.ack.acked_seq == 13 and device.last_seq == 13
    assert device.metrics["at"] == beats[-1].at.isoformat()  # the latest, not the kept one


def test_each_domain_handles_the_events_of_its_kind_and_tells_the_live_pages(db):
    device = make_device(db)
    seen = []

    def sessions(session, owner, event, now):
        seen.append((owner.id, event.seq, session is db))
        return LiveMessage("session", owner.site_id, {"seq": event.seq})

    handlers = EventHandlers()
    handlers.add(SessionRecord, sessions)
    at = datetime.now(UTC)
    record = SessionRecord(
        seq=2, at=at, started_at=at - timedelta(minutes=5), ended_at=at, ended_by=SessionEnd.IDLE
    )

    report = write_events(db, [_Pending(device.id, [heartbeat(1), record])], handlers=handlers)

    assert seen == [(device.id, 2, True)]  # the heartbeat is the fleet's own
    assert report.live == [LiveMessage("session", device.site_id, {"seq": 2})]
    assert stored_seqs(db, device.id) == [1, 2]  # handled events are kept as events too


def test_an_event_type_has_one_handler():
    handlers = EventHandlers()
    handlers.add(SessionRecord, lambda *args: None)
    with pytest.raises(ValueError, match="SessionRecord events already have a handler"):
        handlers.add(SessionRecord, lambda *args: None)


def test_a_batch_the_database_refuses_fails_alone_and_is_refused_not_retried(sqlite_url):
    # Values past the wire schema's bounds (built here as a broken agent would send them): a
    # sequence number past BIGINT, a duration past INTEGER. They shared a group commit with
    # honest heartbeats, whose devices all got "unavailable" and sent again for ever.
    database = Database(sqlite_url)
    with database.session() as session:
        honest = [make_device(session).id for _ in range(3)]
        hostile = make_device(session).id
    ingest = EventIngest(
        database,
        spawn=lambda run: threading.Thread(target=run, daemon=True).start(),
        linger_s=0.3,  # every batch below shares one transaction
    )
    poison = heartbeat(1)
    poison.seq = 2**64  # past what any database integer column holds
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = [pool.submit(ingest.submit, d, [heartbeat(1)]) for d in honest]
            refused = pool.submit(ingest.submit, hostile, [poison])
            acks = [answer.result(timeout=30) for answer in answers]
            with pytest.raises(EventsRefused):
                refused.result(timeout=30)
        with database.session() as session:
            assert all(stored_seqs(session, d) == [1] for d in honest)
            assert stored_seqs(session, hostile) == []
    finally:
        ingest.stop()
        database.dispose()
    assert [ack.acked_seq for ack in acks] == [1, 1, 1]


@pytest.mark.parametrize(
    "at",
    [datetime(1, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, tzinfo=UTC), NOW + timedelta(days=400)],
)
def test_an_instant_no_clock_gives_is_refused_at_the_edge(at):
    with pytest.raises(EventsRefused, match="between 1970 and a year from now"):
        check_dates([Heartbeat(seq=1, at=at, interval_s=10, metrics=METRICS)], NOW)


def test_a_clock_far_off_but_honest_is_accepted():
    # A reconditioned PC whose clock battery died says 1970: its heartbeats still count.
    for at in (datetime(1970, 1, 1, 0, 5, tzinfo=UTC), NOW + timedelta(days=30)):
        check_dates([Heartbeat(seq=1, at=at, interval_s=10, metrics=METRICS)], NOW)


def test_retention_counts_from_receipt_not_from_the_devices_clock(db):
    device = make_device(db)
    old = utcnow() - timedelta(days=40)
    db.add_all(
        [
            # Received long ago, dated in 2099 by a wrong clock: goes.
            DeviceEvent(
                device_id=device.id,
                seq=1,
                type="heartbeat",
                payload={},
                occurred_at=datetime(2099, 1, 1, tzinfo=UTC),
                received_at=old,
            ),
            # Received now, dated 1970 by a dead clock battery: stays.
            DeviceEvent(
                device_id=device.id,
                seq=2,
                type="heartbeat",
                payload={},
                occurred_at=datetime(1970, 1, 1, tzinfo=UTC),
                received_at=utcnow(),
            ),
        ]
    )
    db.flush()

    assert prune_events(db, timedelta(days=30)) == 1
    assert stored_seqs(db, device.id) == [2]


def test_a_restarted_sequence_is_acknowledged_beyond_it_and_noted(db):
    device = make_device(db)
    write_events(db, [_Pending(device.id, [heartbeat(n) for n in range(1, 6)])])

    # The device lost its spool: its counter is back at 1.
    lost = _Pending(device.id, [heartbeat(1), heartbeat(2)])
    write_events(db, [lost])
    # The acknowledgement beyond what it sent tells the agent to number its events after 5.
    assert (lost.ack.acked_seq, lost.ack.stored, lost.ack.duplicates) == (5, 0, 2)
    note = db.scalars(select(AuditLog).where(AuditLog.action == "device.sequence_restarted")).one()
    assert note.target_id == device.id and note.detail["known_seq"] == 5

    # A replay after a lost acknowledgement is no restart.
    write_events(db, [_Pending(device.id, [heartbeat(4), heartbeat(5)])])
    renumbered = _Pending(device.id, [heartbeat(6), heartbeat(7)])
    write_events(db, [renumbered])
    assert renumbered.ack.stored == 2
    assert (
        db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "device.sequence_restarted")
        )
        == 1
    )


@pytest.fixture
def shared_postgres(postgres_base_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of its own, for two 'processes' that commit for real."""
    url = create_database(postgres_base_url, "borne_ingest_replay")
    migrate.upgrade(url)
    yield url


@pytest.mark.postgres
def test_a_replay_reaching_two_processes_at_once_is_handled_once(shared_postgres):
    first, second = Database(shared_postgres), Database(shared_postgres)
    observer = create_engine(shared_postgres)
    try:
        with first.session() as session:
            device_id = make_device(session).id
        at = datetime.now(UTC)
        record = SessionRecord(
            seq=2,
            at=at,
            started_at=at - timedelta(minutes=5),
            ended_at=at,
            ended_by=SessionEnd.IDLE,
        )
        handled: list[int] = []
        handlers = EventHandlers()
        handlers.add(SessionRecord, lambda session, device, event, now: handled.append(event.seq))
        # The agent's batch reached one process, whose acknowledgement was lost; it sends the
        # same batch again, which reaches the other process before the first committed.
        slow = first.sessions()
        write_events(slow, [_Pending(device_id, [heartbeat(1), record])], handlers=handlers)
        replay = _Pending(device_id, [heartbeat(1), record])
        replaying = threading.Thread(
            target=lambda: _write_and_commit(second, replay, handlers), daemon=True
        )
        replaying.start()
        wait_for(
            lambda: _waiting_on_a_lock(observer), what="the second process waiting for the first"
        )

        slow.commit()
        slow.close()
        replaying.join(timeout=30)

        assert handled == [2]  # the resident's session counted once
        assert replay.ack is not None and replay.ack.duplicates == 2
    finally:
        first.dispose()
        second.dispose()
        observer.dispose()


def _write_and_commit(database: Database, pending: _Pending, handlers: EventHandlers) -> None:
    with database.session() as session:
        write_events(session, [pending], handlers=handlers)


def _waiting_on_a_lock(engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        ).scalar()
    return bool(waiting)


def test_a_kiosks_lockers_reports_are_kept_as_heartbeats_are_but_each_one_applies(db):
    from agent.protocol import DoorState, Locker, LockersReport, LockerState

    device = make_device(db)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    applied: list[int] = []
    handlers = EventHandlers()
    handlers.add(LockersReport, lambda session, owner, event, now: applied.append(event.seq))
    reports = [
        LockersReport(
            seq=n + 1,
            at=start + timedelta(seconds=10 * n),
            lockers=[Locker(number=1, state=LockerState.FREE, door=DoorState.CLOSED, since=start)],
        )
        for n in range(7)
    ]  # a minute of reports

    write_events(db, [_Pending(device.id, reports)], HeartbeatHistory(60), handlers)

    assert stored_seqs(db, device.id) == [1, 7]  # one a minute
    assert applied == [1, 2, 3, 4, 5, 6, 7]  # the kiosk's lockers follow every one
