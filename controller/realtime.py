"""Socket.IO: the agents' channel (``/agent``) and live pages for staff (``/live``).

Handlers are thin: they authenticate, validate with the wire schema and call the domain.
With ``redis_url`` set, processes share rooms and emits through Redis (``message_queue``), so an
emit from one process reaches a browser or agent connected to another.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import socketio
from flask import Flask, current_app
from flask_login import current_user
from flask_socketio import Namespace, SocketIO, join_room

from agent.protocol import (
    AGENT_NAMESPACE,
    COMMAND_EVENT,
    PROTOCOL_VERSION,
    ClaimRequest,
    EventBatch,
)
from controller import access, commands, presence, scheduler, signals
from controller.config import ControllerSettings
from controller.context import database_of
from controller.db import Database
from controller.enrolment import authenticate_device
from controller.errors import Unauthenticated
from controller.ingest import EventIngest, FlushReport, IngestUnavailable, prune_events
from controller.models import Command, utcnow
from controller.schedules import SchedulePolicy

log = logging.getLogger(__name__)
LIVE_NAMESPACE = "/live"
METRICS_PUSH_EVERY_S = 2.0
SCHEDULE_EVERY = timedelta(seconds=30)  # live pages get metric changes at most this often per site


class FastJSON:
    """The ``json`` module interface python-socketio accepts, backed by msgspec.

    Every Socket.IO packet is JSON; the standard library's decoder was a visible share of the
    controller's time per heartbeat.
    """

    @staticmethod
    def dumps(obj: Any, **_options: Any) -> str:
        return msgspec.json.encode(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **_options: Any) -> Any:
        return msgspec.json.decode(text)


def init_realtime(app: Flask, settings: ControllerSettings) -> SocketIO:
    """Attach Socket.IO to ``app``; the agent channel is added by :func:`attach_agent_channel`."""
    hub = SocketIO(
        app,
        async_mode=settings.async_mode,
        message_queue=settings.redis_url or None,
        max_http_buffer_size=settings.max_request_bytes,
        logger=False,
        engineio_logger=False,
        json=FastJSON,
    )
    hub.on_namespace(LiveChannel(LIVE_NAMESPACE))
    return hub


def attach_agent_channel(hub: SocketIO, database: Database, ingest: EventIngest) -> AgentChannel:
    channel = AgentChannel(AGENT_NAMESPACE, database, ingest)
    hub.server.register_namespace(channel)
    return channel


class AgentChannel(socketio.Namespace):
    """One persistent connection per device; events in, commands out (room ``device:<id>``).

    A plain python-socketio namespace rather than Flask-SocketIO's: agents have no cookie and no
    Flask request, and building a Flask request context for every heartbeat cost a third of the
    controller's time. It gets the database and the writer from the app that registers it.
    """

    def __init__(self, namespace: str, database: Database, ingest: EventIngest) -> None:
        super().__init__(namespace)
        self._database = database
        self._ingest = ingest
        self._device_of_sid: dict[str, str] = {}

    def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not isinstance(auth, dict) or not all(
            isinstance(auth.get(k), str) for k in ("device_id", "secret")
        ):
            raise socketio.exceptions.ConnectionRefusedError(
                "send auth = {device_id, secret, protocol}"
            )
        if auth.get("protocol", PROTOCOL_VERSION) != PROTOCOL_VERSION:
            raise socketio.exceptions.ConnectionRefusedError(
                f"protocol {auth.get('protocol')!r} is not spoken here (this controller speaks "
                f"{PROTOCOL_VERSION})"
            )
        try:
            with self._database.session() as session:
                device = authenticate_device(session, auth["device_id"], auth["secret"])
        except Unauthenticated as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        self._device_of_sid[sid] = device.id
        self.enter_room(sid, f"device:{device.id}")
        # After the handshake completes: what waited for this device goes out now.
        self.server.start_background_task(self.push_pending, device.id)

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._device_of_sid.pop(sid, None)

    def push_pending(self, device_id: str) -> int:
        """Push the unclaimed commands of a device that just connected; mark them sent."""
        with self._database.session() as session:
            return self._push(session, commands.pending_for(session, device_id))

    def push_queued(self) -> int:
        """Push the commands stored elsewhere (the CLI, the schedule, another process) for the
        devices connected here. One query, whatever the number of connections."""
        here = set(self._device_of_sid.values())
        with self._database.session() as session:
            return self._push(session, [c for c in commands.queued(session) if c.runner_id in here])

    def _push(self, session: Any, pending: list[Command]) -> int:
        for command in pending:
            self.emit(
                COMMAND_EVENT,
                msgspec.to_builtins(commands.message_for(command)),
                to=f"device:{command.runner_id}",
            )
        commands.mark_sent(session, [c.id for c in pending])
        return len(pending)

    def on_claim(self, sid: str, data: Any) -> dict[str, Any]:
        """The device asks to run a command; granted once, never after expiry."""
        device_id = self._device_of_sid.get(sid)
        if device_id is None:
            return {"ok": False, "reason": "unknown", "message": "connect with credentials first"}
        try:
            request = msgspec.convert(data, type=ClaimRequest, strict=True)
        except msgspec.ValidationError as exc:
            return {"ok": False, "reason": "unknown", "message": str(exc)}
        with self._database.session() as session:
            answer = commands.claim(session, device_id, request.command_id)
            started = session.get(Command, request.command_id) if answer.ok else None
            summary = commands.summary(started) if started is not None else None
        if summary is not None:  # "running" on the asker's page
            self.server.emit(
                "command", summary, namespace=LIVE_NAMESPACE, to=f"site:{summary['site_id']}"
            )
        result: dict[str, Any] = msgspec.to_builtins(answer)
        return result

    def on_events(self, sid: str, data: Any) -> dict[str, Any]:
        """Store a batch; the return value is the acknowledgement, sent once it is durable."""
        device_id = self._device_of_sid.get(sid)
        if device_id is None:
            return {"error": "unauthenticated", "message": "connect with credentials first"}
        try:
            batch = msgspec.convert(data, type=EventBatch, strict=True)
        except msgspec.ValidationError as exc:
            return {"error": "invalid_event", "message": str(exc)}
        try:
            ack = self._ingest.submit(device_id, batch.events)
        except IngestUnavailable as exc:
            return {"error": "unavailable", "message": str(exc)}
        result: dict[str, Any] = msgspec.to_builtins(ack)
        return result


class LiveChannel(Namespace):
    """Staff pages: each browser joins the rooms of the sites its user covers."""

    def on_connect(self, auth: Any = None) -> bool:
        if not current_user.is_authenticated:
            return False
        with database_of(current_app).session() as session:
            for site_id in access.visible_site_ids(session, current_user):
                join_room(f"site:{site_id}")
        return True


def push_commands(hub: SocketIO, issued: list[Command]) -> None:
    """Send new (committed) commands to their devices at once, through Redis when several
    processes run, and tell the live pages. A device offline now gets them at its next
    connection (they were stored ``queued``, see :func:`commands.issue`)."""
    for command in issued:
        hub.emit(
            COMMAND_EVENT,
            msgspec.to_builtins(commands.message_for(command)),
            namespace=AGENT_NAMESPACE,
            to=f"device:{command.runner_id}",
        )
    announce_commands(hub, [commands.summary(c) for c in issued])


def announce_commands(hub: SocketIO, summaries: list[dict[str, Any]]) -> None:
    """Command states to the live pages of the sites concerned (the asker's among them)."""
    for summary in summaries:
        hub.emit("command", summary, namespace=LIVE_NAMESPACE, to=f"site:{summary['site_id']}")


def live_updates_sender(hub: SocketIO) -> Callable[[FlushReport], None]:
    """A flush listener pushing device changes to live pages.

    Status changes go out at once; metric-only changes are coalesced per site, so a large fleet
    sends a few messages a second rather than one per heartbeat.
    """
    pending: dict[int, dict[str, dict[str, Any]]] = {}
    last_push: dict[int, float] = {}
    lock = threading.Lock()

    def send(report: FlushReport) -> None:
        now = time.monotonic()
        with lock:
            urgent: set[int] = set()
            for update in report.devices:
                pending.setdefault(update.site_id, {})[update.device_id] = {
                    "id": update.device_id,
                    "site_id": update.site_id,
                    "status": update.status.value,
                    "last_seen_at": update.last_seen_at.isoformat(),
                    "cpu_percent": update.metrics.get("cpu_percent"),
                    "memory_percent": update.metrics.get("memory_percent"),
                }
                if update.status != update.previous_status:
                    urgent.add(update.site_id)
            due = [
                site_id
                for site_id in pending
                if site_id in urgent or now - last_push.get(site_id, 0.0) >= METRICS_PUSH_EVERY_S
            ]
            messages = [(site_id, list(pending.pop(site_id).values())) for site_id in due]
            for site_id in due:
                last_push[site_id] = now
        for site_id, devices in messages:
            hub.emit("devices", devices, namespace=LIVE_NAMESPACE, to=f"site:{site_id}")
        if report.commands:
            announce_commands(hub, report.commands)
        for wipe in report.wipes:
            hub.emit("wipe", wipe, namespace=LIVE_NAMESPACE, to=f"site:{wipe['site_id']}")

    return send


def run_housekeeping(
    app: Flask, hub: SocketIO, stop: threading.Event, every_s: float = 2.0
) -> None:
    """Until ``stop`` is set: mark silent devices offline, expire commands, push commands
    queued by other processes to the devices connected here, prune old events."""
    settings: ControllerSettings = app.extensions["borne.settings"]
    database = app.extensions["borne.db"]
    channel: AgentChannel = app.extensions["borne.agent_channel"]
    policy = SchedulePolicy(timezone=settings.timezone)
    last_prune = 0.0
    scheduled_until = utcnow() - timedelta(minutes=2)  # catch up a little after a restart
    while not stop.wait(every_s):
        try:
            if settings.schedules and utcnow() - scheduled_until >= SCHEDULE_EVERY:
                now = utcnow()
                with database.session() as session:
                    issued = scheduler.issue_due(session, scheduled_until, now, policy)
                scheduled_until = now
                push_commands(hub, issued)
            with database.session() as session:
                ended = [commands.summary(c) for c in commands.expire_overdue(session)]
            announce_commands(hub, ended)
            channel.push_queued()
            with database.session() as session:
                gone = presence.mark_overdue_offline(session, missed=settings.offline_after_missed)
            for device in gone:
                signals.device_status_changed.send(
                    device.device_id, old="online", new="offline", site_id=device.site_id
                )
                hub.emit(
                    "devices",
                    [
                        {
                            "id": device.device_id,
                            "site_id": device.site_id,
                            "status": "offline",
                            "last_seen_at": device.last_seen_at.isoformat(),
                        }
                    ],
                    namespace=LIVE_NAMESPACE,
                    to=f"site:{device.site_id}",
                )
            if time.monotonic() - last_prune > 3600:
                with database.session() as session:
                    prune_events(session, timedelta(days=settings.event_retention_days))
                last_prune = time.monotonic()
        except Exception:
            log.exception("presence check failed; trying again")
