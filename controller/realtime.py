"""Socket.IO: one hub per app, for the agents' channel (``/agent``, the fleet's) and the live
staff pages (``/live``), whose browsers join one room per site they cover.

With ``redis_url`` set, processes share rooms and emits through Redis (``message_queue``), so an
emit from one process reaches a browser or agent connected to another. Domains add their
namespaces in their ``init_app`` and reach the hub with :func:`hub_of`.
"""

from __future__ import annotations

from typing import Any

import msgspec
from flask import Flask
from flask_socketio import SocketIO

from controller.config import ControllerSettings

LIVE_NAMESPACE = "/live"


def site_room(site_id: int) -> str:
    """The live pages' room of one site: every browser of someone who covers it."""
    return f"site:{site_id}"


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
    """Attach Socket.IO to ``app``; domains add their namespaces to it."""
    hub = SocketIO(
        app,
        async_mode=settings.async_mode,
        message_queue=settings.redis_url or None,
        max_http_buffer_size=settings.max_request_bytes,
        logger=False,
        engineio_logger=False,
        json=FastJSON,
    )
    return hub


def hub_of(app: Flask) -> SocketIO:
    hub: SocketIO = app.extensions["socketio"]
    return hub


def emit_to_site(hub: SocketIO, event: str, data: Any, site_id: int) -> None:
    """Tell the live pages of one site (through Redis when several processes run)."""
    hub.emit(event, data, namespace=LIVE_NAMESPACE, to=site_room(site_id))
