"""Live staff pages: which rooms a browser joins, and what a flush of agent events tells them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_login import current_user
from flask_socketio import Namespace, SocketIO, join_room

from controller.context import database_of
from controller.fleet.ingest import FlushReport
from controller.places import service as places
from controller.realtime import emit_to_site, site_room

METRICS_PUSH_EVERY_S = 2.0


class LiveChannel(Namespace):
    """Staff pages: each browser joins the rooms of the sites its user covers."""

    def on_connect(self, auth: Any = None) -> bool:
        if not current_user.is_authenticated:
            return False
        with database_of(current_app).session(writes=False) as session:
            for site_id in places.visible_site_ids(session, current_user):
                join_room(site_room(site_id))
        return True


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
            emit_to_site(hub, "devices", devices, site_id)
        for message in report.live:
            emit_to_site(hub, message.event, message.data, message.site_id)

    return send
