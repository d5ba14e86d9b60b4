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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from flask import Flask
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from agent.protocol import (
    AgentEvent,
    EventAck,
    Heartbeat,
    InventoryReport,
    LockersReport,
)
from controller import audit, signals
from controller.context import database_of, settings_of
from controller.db import Database, utcnow
from controller.fleet.limits import DeviceLimits
from controller.fleet.models import Device, DeviceEvent, DeviceStatus

log = logging.getLogger(__name__)
MAX_GROUP = 2000  # batches per transaction, so one flush never grows without bound


class IngestUnavailable(Exception):
    """The writer could not store the events now (stopping, the database away): send again."""


class EventsRefused(Exception):
    """These events can never be stored (a value out of bounds, or one the database refuses):
    sending them again cannot help, so the agent sets them aside (``invalid_event``)."""


# Instants an honest device may claim: a clock reset to 1970 is off but honest (it raises a
# clock alert, and its heartbeats still count); more than a year ahead is not a clock, and an
# instant outside the database's range would fail every device's group commit.
EARLIEST_EVENT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=366)
# The database being away, as opposed to refusing one batch's values.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, DisconnectionError, TimeoutError)


def check_dates(events: list[AgentEvent], now: datetime) -> None:
    """Refuse a batch with an instant no honest clock gives (the wire schema bounds the rest)."""
    latest = now + LATEST_AHEAD
    for event in events:
        for moment in _moments(event):
            if not EARLIEST_EVENT <= moment <= latest:
                raise EventsRefused(
                    f"event {event.seq} is dated {moment.isoformat()}: an instant must be "
                    f"between 1970 and a year from now"
                )


def _moments(value: object) -> Iterator[datetime]:
    """Every instant in an event, nested ones included."""
    if isinstance(value, datetime):
        yield value
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from _moments(getattr(value, name))
    elif isinstance(value, list):
        for item in value:
            yield from _moments(item)


@dataclass
class _Pending:
    device_id: str
    events: list[AgentEvent]
    done: threading.Event = field(default_factory=threading.Event)
    ack: EventAck | None = None
    error: str | None = None
    refused: bool = False  # the error is the events' own: they can never be stored


@dataclass(frozen=True)
class DeviceUpdate:
    """What a flush changed for one device, for live pages and signals."""

    device_id: str
    site_id: int
    status: DeviceStatus
    previous_status: DeviceStatus
    last_seen_at: datetime
    metrics: dict[str, Any]


@dataclass(frozen=True)
class LiveMessage:
    """What a flush tells the live pages of one site: a Socket.IO event and its data."""

    event: str
    site_id: int
    data: dict[str, Any]


# What a domain does with one event of its kind, in the flush's transaction: store it where it
# belongs, and say what live pages should hear of it (None: nothing).
EventHandler = Callable[[Session, Device, Any, datetime], LiveMessage | None]


class EventHandlers:
    """Each domain's handler for the events of its kind, by event type (a public PC's wipe
    reports, a command's result …): the ingest stores every event and passes these on, without
    knowing the domains. Domains add theirs in their ``init_app``, after the fleet's."""

    def __init__(self) -> None:
        self._by_type: dict[type, EventHandler] = {}
        self._followers: dict[type, list[EventHandler]] = {}

    def add(self, event_type: type, handler: EventHandler) -> None:
        if event_type in self._by_type:
            raise ValueError(f"{event_type.__name__} events already have a handler")
        self._by_type[event_type] = handler

    def follow(self, event_type: type, handler: EventHandler) -> None:
        """Pass events of ``event_type`` to ``handler`` too, after their own domain's, in the
        order added: for a domain that derives figures from another's events (statistics)."""
        self._followers.setdefault(event_type, []).append(handler)

    def for_event(self, event: AgentEvent) -> list[EventHandler]:
        """The handlers of ``event``, in order: its domain's, then those that follow it."""
        own = self._by_type.get(type(event))
        return ([own] if own is not None else []) + self._followers.get(type(event), [])


@dataclass
class FlushReport:
    events_stored: int = 0
    duplicates: int = 0
    devices: list[DeviceUpdate] = field(default_factory=list)
    live: list[LiveMessage] = field(default_factory=list)  # from the domains' handlers

    def told(self, event: str) -> list[dict[str, Any]]:
        """The data of the live messages of one kind ("wipe", "command" …), in order."""
        return [message.data for message in self.live if message.event == event]


# Reports a device sends again and again, whose latest value is what counts.
PERIODIC_REPORTS = (Heartbeat, LockersReport)


class HeartbeatHistory:
    """Which periodic reports are kept as rows: at most one per device and kind (heartbeat, a
    kiosk's lockers) per ``every_s`` seconds.

    Every heartbeat updates its device (last seen, latest metrics, last seq) durably before it
    is acknowledged, as every lockers report updates the kiosk's lockers; keeping each one as a
    row as well would cost 400 million rows a month for 5,000 devices. Other events (inventory,
    results, sessions, incidents) are always kept. ``every_s = 0`` keeps every report.
    """

    def __init__(self, every_s: float) -> None:
        self.every = timedelta(seconds=every_s)
        self._last_kept: dict[str, datetime] = {}

    def keep(self, device_id: str, at: datetime, kind: str = "heartbeat") -> bool:
        if not self.every:
            return True
        key = f"{device_id} {kind}"
        last = self._last_kept.get(key)
        if last is not None and timedelta(0) <= at - last < self.every:
            return False
        self._last_kept[key] = at
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
        handlers: EventHandlers | None = None,
        limits: DeviceLimits | None = None,
        linger_s: float = 0.0,
    ) -> None:
        """``spawn`` starts the writer loop as a background task at the first event (a thread,
        or a greenlet under gevent); without it, the caller runs :meth:`run` itself."""
        self._database = database
        self._on_flushed = on_flushed
        self._spawn = spawn
        self._history = history or HeartbeatHistory(0)
        self.handlers = handlers or EventHandlers()
        self._limits = limits
        self._linger_s = linger_s
        self._start_lock = threading.Lock()
        self._started = spawn is None
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._stopped = threading.Event()

    def submit(self, device_id: str, events: list[AgentEvent], timeout: float = 30.0) -> EventAck:
        """Store ``events`` of ``device_id`` and return their acknowledgement once durable."""
        if self._stopped.is_set():
            raise IngestUnavailable("the controller is stopping")
        check_dates(events, utcnow())
        if self._limits is not None:  # raises DeviceOverLimit
            self._limits.admit(device_id, len(events), len(msgspec.json.encode(events)))
        self._ensure_started()
        pending = _Pending(device_id, sorted(events, key=lambda e: e.seq))
        self._queue.put(pending)
        if not pending.done.wait(timeout):
            raise IngestUnavailable("the events could not be stored in time")
        if pending.refused:
            raise EventsRefused(pending.error or "these events cannot be stored")
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
                report = write_events(session, batch, self._history, self.handlers)
        except Exception as exc:
            self._flush_failed(batch, exc)
            return
        for pending in batch:
            pending.done.set()
        self._announce(report)

    def _flush_failed(self, batch: list[_Pending], exc: Exception) -> None:
        """A shared transaction failed. The database away: every waiter hears it and sends
        again. Otherwise one device's values did it: each device's batch is stored alone, so
        that one device's events never fail another's, and only the faulty one is refused."""
        if isinstance(exc, TRANSIENT_ERRORS):
            log.exception("could not store %d agent batches", len(batch))
            for pending in batch:
                pending.error = f"storage failed: {exc.__class__.__name__}"
                pending.done.set()
            return
        if len(batch) > 1:
            log.warning(
                "could not store %d agent batches together (%s); storing each alone",
                len(batch),
                exc.__class__.__name__,
            )
            for pending in batch:
                pending.ack = pending.error = None
                self._flush([pending])
            return
        (pending,) = batch
        # Whose events, never what they hold (they may describe a resident's session).
        log.error(
            "refused events %d..%d of device %s: the database would not store them (%s)",
            pending.events[0].seq,
            pending.events[-1].seq,
            pending.device_id,
            exc.__class__.__name__,
        )
        pending.refused = True
        pending.error = f"these events cannot be stored ({exc.__class__.__name__})"
        pending.done.set()

    def _announce(self, report: FlushReport) -> None:
        for changed in report.devices:
            if changed.previous_status is not changed.status:
                signals.device_status_changed.send(
                    changed.device_id,
                    old=changed.previous_status,
                    new=changed.status,
                    site_id=changed.site_id,
                )
        if self._on_flushed is not None and (report.devices or report.live):
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
    session: Session,
    batch: list[_Pending],
    history: HeartbeatHistory | None = None,
    handlers: EventHandlers | None = None,
) -> FlushReport:
    """Write a group of batches in the caller's transaction; fill each batch's ack.

    Events a domain handles (``handlers``) are passed to it in the same transaction, in the
    order they arrived."""
    history = history or HeartbeatHistory(0)
    handlers = handlers or EventHandlers()
    now = utcnow()
    devices: Table = Device.__table__  # type: ignore[assignment]
    known = {
        row.id: row
        for row in session.execute(
            select(
                devices.c.id,
                devices.c.site_id,
                devices.c.last_seq,
                devices.c.status,
                devices.c.secret_rotation_requested_at,
            )
            .where(devices.c.id.in_({p.device_id for p in batch}))
            # Locked until the commit (PostgreSQL; SQLite has one writer anyway): a replay that
            # reaches another process meanwhile (a lost acknowledgement, the HTTP fallback)
            # waits here and then sees the new last_seq, so no event is handled twice (a
            # resident's session counted twice). In id order, so two writers never deadlock.
            .order_by(devices.c.id)
            .with_for_update()
        )
    }
    last_seq = {device_id: row.last_seq for device_id, row in known.items()}
    rows: list[dict[str, Any]] = []
    # Rare events with tables of their own (results, sessions, wipes, portal statistics),
    # passed to their domain's handler in the same transaction.
    handled: list[tuple[str, EventHandler, AgentEvent]] = []
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
            _apply(change, event, now)
            for handler in handlers.for_event(event):
                handled.append((pending.device_id, handler, event))
            if isinstance(event, PERIODIC_REPORTS) and not history.keep(
                pending.device_id, event.at, type(event).__name__
            ):
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
            acked_seq=last_seq[pending.device_id],
            stored=stored,
            duplicates=duplicates,
            # Read with the row anyway: telling the agent costs no query of its own. The
            # adapters drop it for agents that do not read it.
            rotate_secret=known[pending.device_id].secret_rotation_requested_at is not None,
        )
        if not stored and pending.events and pending.events[-1].seq < last_seq[pending.device_id]:
            _note_restart(session, pending, last_seq[pending.device_id])
        report.events_stored += stored
        report.duplicates += duplicates

    _handle(session, handled, report, now)
    _keep_given_names(session, changes)
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


def _keep_given_names(session: Session, changes: dict[str, dict[str, Any]]) -> None:
    """A new host name renames only a device still called by its former one: a name staff gave
    (at enrolment, from the token's note, or later on its page) stays. Inventory reports are
    rare, so reading those devices' names costs one small query now and then."""
    renamed = {device_id: c["name"] for device_id, c in changes.items() if "name" in c}
    if not renamed:
        return
    devices: Table = Device.__table__  # type: ignore[assignment]
    for device_id, name, inventory in session.execute(
        select(devices.c.id, devices.c.name, devices.c.inventory).where(devices.c.id.in_(renamed))
    ):
        if name != (inventory or {}).get("hostname"):
            del changes[device_id]["name"]


def _note_restart(session: Session, pending: _Pending, known_seq: int) -> None:
    """A batch from below what is stored, all taken for replays: the device's spool restarted
    (lost, reset, or its identity copied to another machine). The acknowledgement, beyond what
    it sent, tells it to number its events after ``known_seq`` and send them again; the audit
    log keeps a note, since events it held before the loss are gone."""
    first, last = pending.events[0].seq, pending.events[-1].seq
    audit.record(
        session,
        "system",
        "device.sequence_restarted",
        "device",
        pending.device_id,
        f"events {first}..{last} came after {known_seq} were stored: the device's spool "
        "restarted; it numbers its events after them",
        first=first,
        last=last,
        known_seq=known_seq,
    )


def _handle(
    session: Session,
    handled: list[tuple[str, EventHandler, AgentEvent]],
    report: FlushReport,
    now: datetime,
) -> None:
    if not handled:
        return
    ids = {device_id for device_id, _, _ in handled}
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(ids)))}
    for device_id, handler, event in handled:
        message = handler(session, devices[device_id], event, now)
        if message is not None:
            report.live.append(message)
    session.flush()


def _group_by_columns(
    changes: dict[str, dict[str, Any]],
) -> dict[tuple[str, ...], list[tuple[str, dict[str, Any]]]]:
    groups: dict[tuple[str, ...], list[tuple[str, dict[str, Any]]]] = {}
    for device_id, change in changes.items():
        groups.setdefault(tuple(sorted(change)), []).append((device_id, change))
    return groups


def _apply(change: dict[str, Any], event: AgentEvent, now: datetime) -> None:
    """Fold one event into the device's row."""
    if isinstance(event, Heartbeat):
        change["metrics"] = {
            **msgspec.to_builtins(event.metrics),
            "state": event.state,
            "at": event.at.isoformat(),  # by the device's clock
            "received_at": now.isoformat(),  # by the controller's: their gap is the clock's error
        }
        change["heartbeat_interval_s"] = event.interval_s
        # Each heartbeat says it again: a release that reads less (a rollback) says less.
        change["agent_features"] = sorted(set(event.features))
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
    """Forget events received before the retention period; returns how many went.

    Counted from the controller's receipt, never from the time a device claims: a device with
    its clock in 2099 must not keep its events for ever."""
    result = session.execute(
        delete(DeviceEvent).where(DeviceEvent.received_at < utcnow() - older_than)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def ingest_of(app: Flask) -> EventIngest:
    """The app's writer of agent events (made by the fleet's ``init_app``)."""
    ingest: EventIngest = app.extensions["borne.ingest"]
    return ingest


def prune_events_job(app: Flask) -> None:
    """The periodic job: forget events past the retention period."""
    days = settings_of(app).event_retention_days
    with database_of(app).session() as session:
        gone = prune_events(session, timedelta(days=days))
    if gone:
        log.info("forgot %d agent events older than %d days", gone, days)
