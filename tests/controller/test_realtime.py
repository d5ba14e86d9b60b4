"""The Socket.IO hub (controller/realtime.py): a client's malformed messages give one warning
line a minute, not a traceback each; a bug in a handler of ours keeps its traceback."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import controller.fleet.channel
from controller.realtime import QuietMalformedPackets


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def record_raised_in(filename: str) -> logging.LogRecord:
    """A "message handler error" record whose innermost frame is in ``filename``."""
    code = compile("raise ValueError('invalid literal')", filename, "exec")
    try:
        exec(code, {})  # noqa: S102 (a fixed string: a frame in the file named)
    except ValueError:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "controller.engineio", logging.ERROR, __file__, 1, "message handler error", (), exc_info
    )


LIBRARY = "/usr/lib/python3/dist-packages/socketio/packet.py"


def test_a_storm_of_malformed_messages_is_one_line_a_minute():
    clock = Clock()
    quiet = QuietMalformedPackets(every_s=60, clock=clock)

    first = record_raised_in(LIBRARY)
    assert quiet.filter(first)
    assert first.levelname == "WARNING" and first.exc_info is None
    assert first.getMessage().startswith("refused 1 malformed Socket.IO message(s)")
    assert not any(quiet.filter(record_raised_in(LIBRARY)) for _ in range(50))

    clock.now += 61
    later = record_raised_in(LIBRARY)
    assert quiet.filter(later)
    assert "refused 51 malformed" in later.getMessage()


def test_a_bug_in_a_handler_of_ours_keeps_its_traceback():
    quiet = QuietMalformedPackets(clock=Clock())
    ours = record_raised_in(str(Path(controller.fleet.channel.__file__)))
    assert quiet.filter(ours)
    assert ours.exc_info is not None and ours.levelname == "ERROR"
