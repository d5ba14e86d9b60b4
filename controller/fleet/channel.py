"""The agents' channel: one persistent Socket.IO connection per device (namespace ``/agent``);
events in, commands out (room ``device:<id>``).

Handlers are thin: they authenticate, validate with the wire schema and call the domain.
"""

from __future__ import annotations

from typing import Any

import msgspec
import socketio
from flask import Flask
from flask_socketio import SocketIO

from agent.protocol import (
    AGENT_NAMESPACE,
    COMMAND_EVENT,
    FEATURES_AUTH_KEY,
    PROTOCOL_VERSION,
    ClaimRequest,
    EventBatch,
    ack_for,
    features_of,
)
from controller.commands import service as commands
from controller.commands.models import Command
from controller.db import Database
from controller.errors import Unauthenticated
from controller.fleet.enrolment import SecretToPromote, authenticate_device
from controller.fleet.ingest import EventIngest, EventsRefused, IngestUnavailable
from controller.fleet.limits import DeviceOverLimit
from controller.realtime import LIVE_NAMESPACE, site_room


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
        self._features_of_sid: dict[str, frozenset[str]] = {}

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
            device_id = self._authenticate(auth["device_id"], auth["secret"])
        except Unauthenticated as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        self._device_of_sid[sid] = device_id
        self._features_of_sid[sid] = features_of(auth.get(FEATURES_AUTH_KEY))
        self.enter_room(sid, f"device:{device_id}")
        # After the handshake completes: what waited for this device goes out now.
        self.server.start_background_task(self.push_pending, device_id)

    def _authenticate(self, device_id: str, secret: str) -> str:
        # A read: connections must not queue behind the writer (SQLite). Only a device's first
        # connection with its new secret writes, once per rotation.
        try:
            with self._database.session(writes=False) as session:
                return authenticate_device(session, device_id, secret, read_only=True).id
        except SecretToPromote:
            with self._database.session() as session:
                return authenticate_device(session, device_id, secret).id

    @property
    def connections(self) -> int:
        """How many agents hold a connection to this process (each process counts its own)."""
        return len(self._device_of_sid)

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._device_of_sid.pop(sid, None)
        self._features_of_sid.pop(sid, None)

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
                "command", summary, namespace=LIVE_NAMESPACE, to=site_room(summary["site_id"])
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
        except EventsRefused as exc:
            return {"error": "invalid_event", "message": str(exc)}
        except DeviceOverLimit as exc:
            return {"error": "rate_limited", "message": str(exc)}
        except IngestUnavailable as exc:
            return {"error": "unavailable", "message": str(exc)}
        result: dict[str, Any] = msgspec.to_builtins(
            ack_for(ack, self._features_of_sid.get(sid, frozenset()))
        )
        return result


def push_queued_job(app: Flask) -> None:
    """The periodic job: push to the devices connected to this process the commands stored
    elsewhere (the command line, the schedule, another process)."""
    channel: AgentChannel = app.extensions["borne.agent_channel"]
    channel.push_queued()
