"""Socket.IO: one hub per app, for the agents' channel (``/agent``, the fleet's) and the live
staff pages (``/live``), whose browsers join one room per site they cover.

With ``redis_url`` set, processes share rooms and emits through Redis (``message_queue``), so an
emit from one process reaches a browser or agent connected to another. Domains add their
namespaces in their ``init_app`` and reach the hub with :func:`hub_of`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from flask import Flask
from flask_socketio import SocketIO

from controller.config import ControllerSettings

LIVE_NAMESPACE = "/live"
# The Socket.IO and Engine.IO servers' own loggers, given to them (left to themselves, they add a
# handler of their own, and every log line shows twice).
SOCKETIO_LOG = logging.getLogger("controller.socketio")
ENGINEIO_LOG = logging.getLogger("controller.engineio")
OUR_CODE = str(Path(__file__).parent)  # the controller's handlers (this module only decodes)


class QuietMalformedPackets(logging.Filter):
    """A client's malformed Socket.IO message makes the library log a traceback, one per message:
    a broken or hostile agent could fill the disk. Those become one warning line a minute, with
    how many were refused. An error raised in borne's own code keeps its traceback."""

    def __init__(self, every_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.every_s = every_s
        self._clock = clock
        self._last = -every_s
        self._refused = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or not record.getMessage().endswith("handler error"):
            return True
        _, error, trace = record.exc_info
        while trace is not None and trace.tb_next is not None:
            trace = trace.tb_next
        where = trace.tb_frame.f_code.co_filename if trace is not None else ""
        if where.startswith(OUR_CODE) and where != __file__:
            return True  # a bug in a handler of ours: its traceback is needed
        self._refused += 1
        now = self._clock()
        if now - self._last < self.every_s:
            return False
        record.msg = (
            "refused %d malformed Socket.IO message(s) since the last report; the latest: %s"
        )
        record.args = (self._refused, f"{type(error).__name__}: {error}"[:200])
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self._last, self._refused = now, 0
        return True


def _quiet(logger: logging.Logger) -> logging.Logger:
    if not any(isinstance(f, QuietMalformedPackets) for f in logger.filters):
        logger.addFilter(QuietMalformedPackets())
    logger.setLevel(logging.WARNING)
    return logger


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
        logger=_quiet(SOCKETIO_LOG),
        engineio_logger=_quiet(ENGINEIO_LOG),
        json=FastJSON,
    )
    return hub


def hub_of(app: Flask) -> SocketIO:
    hub: SocketIO = app.extensions["socketio"]
    return hub


def emit_to_site(hub: SocketIO, event: str, data: Any, site_id: int) -> None:
    """Tell the live pages of one site (through Redis when several processes run)."""
    hub.emit(event, data, namespace=LIVE_NAMESPACE, to=site_room(site_id))
