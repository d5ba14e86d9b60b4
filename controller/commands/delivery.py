"""Delivery of commands: pushed to their devices the moment they are committed, announced to the
live pages of their sites.

A device offline now gets its commands at its next connection (they were stored ``queued``, see
:func:`controller.commands.service.issue`); the fleet's agent channel pushes those.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from flask import Flask, current_app
from flask_socketio import SocketIO
from sqlalchemy.orm import Session

from agent.protocol import AGENT_NAMESPACE, COMMAND_EVENT, CommandResult
from controller.commands import service as commands
from controller.commands.models import Command
from controller.context import database_of
from controller.fleet.ingest import LiveMessage
from controller.fleet.models import Device
from controller.realtime import emit_to_site, hub_of


def send_now(issued: list[Command]) -> None:
    """Push committed commands from a request handler (the current app's hub)."""
    push_commands(hub_of(current_app), issued)


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
        emit_to_site(hub, "command", summary, summary["site_id"])


def expire_job(app: Flask) -> None:
    """The periodic job: commands nobody claimed in time expire, and their pages hear it."""
    with database_of(app).session() as session:
        ended = [commands.summary(c) for c in commands.expire_overdue(session)]
    announce_commands(hub_of(app), ended)


def result_event(
    session: Session, device: Device, result: CommandResult, now: datetime
) -> LiveMessage | None:
    """The ingest's handler of command results: store how it ended, tell the asker's page."""
    command = commands.record_result(session, device.id, result, now)
    if command is None:
        return None
    return LiveMessage("command", command.site_id, commands.summary(command))
