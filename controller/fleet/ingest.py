"""Agent events in, durably and fast: group commit of heartbeats and reports.

Handlers hand a validated batch to :meth:`EventIngest.submit` and wait; one writer task takes
everything that has arrived, writes it in a single transaction, then releases all the waiters
with their acknowledgement. Under load the batches grow on their own, so the number of commits
stays small (one transaction per heartbeat caps PostgreSQL near 1,600/s on this machine), while a
lone heartbeat is still written at once. An event is acknowledged only after its commit.

Each (device, seq) is stored once: events at or below the device's ``last_seq`` are duplicates of
a replay and are acknowledged without being stored again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from flask import Flask
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from agent.protocol import (
    AgentEvent,
    CommandResult,
    EventAck,
    Heartbeat,
    InventoryReport,
    PortalStats,
    SessionRecord,
    WipeReport,
)
from controller import signals
from controller.commands import service as commands
from controller.context import database_of, settings_of
from controller.db import Database, utcnow
from controller.fleet.models import Device, DeviceEvent, DeviceStatus
from controller.hotspots import usage as portal_usage
from controller.public_pcs import service as pc_usage

log = logging.getLogger(__name__)
MAX_GROUP = 2000  # batches per transaction, so one flush never grows without bound


class IngestUnavailable(Exception):
    """The writer could not store the events (stopped, or the database refused)."""


@dataclass
class _Pending:
    device_id: str
    events: list[AgentEvent]
    done: threading.Event = field(default_factory=threading.Event)
    ack: EventAck | None = None
    error: str | None = None


@dataclass(frozen=True)
class DeviceUpdate:
    """What a flush changed for one device, for live pages and signals."""

    device_id: str
    site_id: int
    status: DeviceStatus
    previous_status: DeviceStatus
    last_seen_at: datetime
    metrics: dict[str, Any]


@dataclass
class FlushReport:
    events_stored: int = 0
    duplicates: int = 0
    devices: list[DeviceUpdate] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)  # results, as summaries
    wipes: list[dict[str, Any]] = field(default_factory=list)  # wipe reports, as summaries


class HeartbeatHistory:
    """Which heartbeats are kept as rows: at most one per device per ``every_s`` seconds.

    Every heartbeat updates its device (last seen, latest metrics, last seq) durably before it
    is acknowledged; keeping each one as a row as well would cost 400 million rows a month for
    5,000 devices. Other events (inventory, and those of later issues) are always kept.
    ``every_s = 0`` keeps every heartbeat.
    """

    def __init__(self, every_s: float) -> None:
        self.every = timedelta(seconds=every_s)
        self._last_kept: dict[str, datetime] = {}

    def keep(self, device_id: str, at: datetime) -> bool:
        if not self.every:
            return True
        last = self._last_kept.get(device_id)
        if last is not None and timedelta(0) <= at - last < self.every:
            return False
        self._last_kept[device_id] = at
        return True


class EventIngest:
    """The single writer of agent events for one controller process."""

    def __init__(
        self,
        database: Database,
        *,
        on_flushed: Callable[[FlushReport], None] | None = None,
        spawn: Callable[[Callable[[], None]], object] | None = None,
        history: HeartbeatHistory | None = None,
        linger_s: float = 0.0,
    ) -> None:
        """``spawn`` starts the writer loop as a background task at the first event (a thread,
        or a greenlet under gevent); without it, the caller runs :meth:`run` itself."""
        self._database = database
        self._on_flushed = on_flushed
        self._spawn = spawn
        self._history = history or HeartbeatHistory(0)
        self._linger_s = linger_s
        self._start_lock = threading.Lock()
        self._started = spawn is None
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._stopped = threading.Event()

    def submit(self, device_id: str, events: list[AgentEvent], timeout: float = 30.0) -> EventAck:
        """Store ``events`` of ``device_id`` and return their acknowledgement once durable."""
        if self._stopped.is_set():
            raise IngestUnavailable("the controller is stopping")
        self._ensure_started()
        pending = _Pending(device_id, sorted(events, key=lambda e: e.seq))
        self._queue.put(pending)
        if not pending.done.wait(timeout):
            raise IngestUnavailable("the events could not be stored in time")
        if pending.error is not None or pending.ack is None:
            raise IngestUnavailable(pending.error or "the events were not stored")
        return pending.ack

    def _ensure_started(self) -> None:
        if self._started:
            return
        with self._start_lock:
            if not self._started and self._spawn is not None:
                self._spawn(self.run)
                self._started = True

    def run(self) -> None:
        """The writer loop; run it as a background task until :meth:`stop`."""
        while not self._stopped.is_set():
            try:
                first = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if first is None:
                break
            self._flush(self._gather(first))
        self._fail_remaining()

    def _gather(self, first: _Pending) -> list[_Pending]:
        """``first`` and whatever arrives within the linger time, up to ``MAX_GROUP`` batches.

        Each transaction has a fixed cost (a query, a commit, an fsync); lingering a few
        milliseconds lets a steady stream share it instead of paying it per heartbeat. The
        writer sleeps the linger out once, then takes what came, rather than waking up for
        every arrival.
        """
        if self._linger_s:
            self._stopped.wait(self._linger_s)
        batch = [first]
        while len(batch) < MAX_GROUP:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._stopped.set()
                break
            batch.append(item)
        return batch

    def stop(self) -> None:
        self._stopped.set()
        self._queue.put(None)

    def _flush(self, batch: list[_Pending]) -> None:
        try:
            with self._database.session() as session:
                report = write_events(session, batch, self._history)
        except Exception as exc:  # the database refused: tell every waiter, keep running
            log.exception("could not store %d agent batches", len(batch))
            for pending in batch:
                pending.error = f"storage failed: {exc.__class__.__name__}"
                pending.done.set()
            return
        for pending in batch:
            pending.done.set()
        for changed in report.devices:
            if changed.previous_status is not changed.status:
                signals.device_status_changed.send(
                    changed.device_id,
                    old=changed.previous_status,
                    new=changed.status,
                    site_id=changed.site_id,
                )
        if self._on_flushed is not None and (report.devices or report.commands or report.wipes):
            try:
                self._on_flushed(report)
            except Exception:
                log.exception("a flush listener failed")

    def _fail_remaining(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item.error = "the controller is stopping"
                item.done.set()


def write_events(
    session: Session, batch: list[_Pending], history: HeartbeatHistory | None = None
) -> FlushReport:
    """Write a group of batches in the caller's transaction; fill each batch's ack."""
    history = history or HeartbeatHistory(0)
    now = utcnow()
    devices: Table = Device.__table__  # type: ignore[assignment]
    known = {
        row.id: row
        for row in session.execute(
            select(devices.c.id, devices.c.site_id, devices.c.last_seq, devices.c.status).where(
                devices.c.id.in_({p.device_id for p in batch})
            )
        )
    }
    last_seq = {device_id: row.last_seq for device_id, row in known.items()}
    rows: list[dict[str, Any]] = []
    results: list[tuple[str, CommandResult]] = []
    # Rare events with their own tables (sessions, wipes, portal statistics), written by the
    # domain modules in the same transaction.
    usage: list[tuple[str, SessionRecord | WipeReport | PortalStats]] = []
    changes: dict[str, dict[str, Any]] = {}
    report = FlushReport()

    for pending in batch:
        if pending.device_id not in known:
            pending.error = "this device is no longer enrolled"
            continue
        stored = duplicates = 0
        change = changes.setdefault(pending.device_id, {})
        for event in pending.events:
            if event.seq <= last_seq[pending.device_id]:
                duplicates += 1
                continue
            last_seq[pending.device_id] = event.seq
            stored += 1
            _apply(change, event)
            if isinstance(event, CommandResult):
                results.append((pending.device_id, event))
            elif isinstance(event, SessionRecord | WipeReport | PortalStats):
                usage.append((pending.device_id, event))
            if isinstance(event, Heartbeat) and not history.keep(pending.device_id, event.at):
                continue
            rows.append(
                {
                    "device_id": pending.device_id,
                    "seq": event.seq,
                    "type": type(event).__struct_config__.tag,
                    "occurred_at": event.at,
                    "received_at": now,
                    "payload": msgspec.to_builtins(event),
                }
            )
        change.update(
            last_seen_at=now, last_seq=last_seq[pending.device_id], status=DeviceStatus.ONLINE
        )
        pending.ack = EventAck(
            acked_seq=last_seq[pending.device_id], stored=stored, duplicates=duplicates
        )
        report.events_stored += stored
        report.duplicates += duplicates

    for runner_id, result in results:
        command = commands.record_result(session, runner_id, result, now)
        if command is not None:
            report.commands.append(commands.summary(command))
    _record_usage(session, usage, report, now)
    connection = session.connection()  # Core: the ORM's bulk paths cost twice as much per row
    if rows:
        connection.execute(_insert_ignoring_duplicates(session), rows)
    for device_id, change in changes.items():
        previous = DeviceStatus(known[device_id].status)
        if previous is not DeviceStatus.ONLINE:
            change["status_changed_at"] = now
        report.devices.append(
            DeviceUpdate(
                device_id=device_id,
                site_id=known[device_id].site_id,
                status=DeviceStatus.ONLINE,
                previous_status=previous,
                last_seen_at=now,
                metrics=change.get("metrics", {}),
            )
        )
    for columns, group in _group_by_columns(changes).items():  # one executemany per shape
        statement = (
            update(devices)
            .where(devices.c.id == bindparam("device_id"))
            .values({column: bindparam(column) for column in columns})
        )
        connection.execute(
            statement, [{**change, "device_id": device_id} for device_id, change in group]
        )
    return report


def _record_usage(
    session: Session,
    usage: list[tuple[str, SessionRecord | WipeReport | PortalStats]],
    report: FlushReport,
    now: datetime,
) -> None:
    if not usage:
        return
    devices = {
        d.id: d for d in session.scalars(select(Device).where(Device.id.in_({u[0] for u in usage})))
    }
    for device_id, event in usage:
        device = devices[device_id]
        if isinstance(event, SessionRecord):
            pc_usage.record_session(session, device, event)
        elif isinstance(event, WipeReport):
            row = pc_usage.record_wipe(session, device, event, now)
            report.wipes.append({**pc_usage.wipe_summary(row), "site_id": device.site_id})
        else:
            portal_usage.record_portal_stats(session, device, event)
    session.flush()


def _group_by_columns(
    changes: dict[str, dict[str, Any]],
) -> dict[tuple[str, ...], list[tuple[str, dict[str, Any]]]]:
    groups: dict[tuple[str, ...], list[tuple[str, dict[str, Any]]]] = {}
    for device_id, change in changes.items():
        groups.setdefault(tuple(sorted(change)), []).append((device_id, change))
    return groups


def _apply(change: dict[str, Any], event: AgentEvent) -> None:
    """Fold one event into the device's row."""
    if isinstance(event, Heartbeat):
        change["metrics"] = {
            **msgspec.to_builtins(event.metrics),
            "state": event.state,
            "at": event.at.isoformat(),
        }
        change["heartbeat_interval_s"] = event.interval_s
    elif isinstance(event, InventoryReport):
        change["inventory"] = msgspec.to_builtins(event.inventory)
        change["inventory_at"] = event.at
        change["name"] = event.inventory.hostname


def _insert_ignoring_duplicates(session: Session) -> Any:
    """INSERT that skips a (device, seq) already stored by another process or a retry."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(DeviceEvent).on_conflict_do_nothing(
            constraint="uq_device_events_device_seq"
        )
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(DeviceEvent).on_conflict_do_nothing()
    return insert(DeviceEvent)


def prune_events(session: Session, older_than: timedelta) -> int:
    """Forget events older than the retention period; returns how many went."""
    result = session.execute(
        delete(DeviceEvent).where(DeviceEvent.occurred_at < utcnow() - older_than)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def prune_events_job(app: Flask) -> None:
    """The periodic job: forget events past the retention period."""
    days = settings_of(app).event_retention_days
    with database_of(app).session() as session:
        gone = prune_events(session, timedelta(days=days))
    if gone:
        log.info("forgot %d agent events older than %d days", gone, days)
