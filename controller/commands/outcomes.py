"""How a command ended, for people: one line ("Reset: ready in 80 ms", "Screen locked") instead
of the device's raw output, which pages keep behind a disclosure.

:func:`outcome_of` reads a finished command into a small JSON-ready dict that names no words
(the live pages get it in the events, read by readers of several languages);
:func:`outcome_line` words it in the reader's language, and app.js does the same from the words
of the page (``command_words_of_page``). The agents' outputs are English text, read here only
where they have a stable shape (``ready in 140 ms``, ``session ends at <instant>``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask_babel import format_datetime

from agent.protocol import CommandName
from controller.commands.models import Command, CommandState
from controller.i18n import _

_READY = re.compile(r"\bready in (\d+) ms\b")
_ENDS_AT = re.compile(r"^session ends at (\S+)", re.MULTILINE)

# A command that went well, in one word or two: its kind of outcome.
DONE_KINDS = {
    CommandName.LOCK_SCREEN: "locked",
    CommandName.UNLOCK_SCREEN: "unlocked",
    CommandName.SHOW_MESSAGE: "shown",
    CommandName.REBOOT: "restarting",
    CommandName.SHUTDOWN: "shutting_down",
    CommandName.WAKE: "wake_sent",
    CommandName.MAINTENANCE: "updated",
    CommandName.UPDATE_CONFIG: "configured",
    CommandName.COLLECT_LOGS: "logs",
}


def outcome_of(command: Command) -> dict[str, Any] | None:
    """How ``command`` ended, without words; None while it is not finished.

    ``{"kind": "reset", "ready_ms": 80}``, ``{"kind": "extended", "ends_at": "…Z"}``,
    ``{"kind": "failed", "reason": "<the output's first line>"}``, ``{"kind": "expired"}``, or
    one of :data:`DONE_KINDS`' values.
    """
    state = CommandState(command.state)
    if not state.finished:
        return None
    if state is CommandState.EXPIRED:
        return {"kind": "expired"}
    output = (command.output or "").strip()
    if state is CommandState.FAILED:
        return {"kind": "failed", "reason": output.splitlines()[0][:200] if output else ""}
    name = CommandName(command.name)
    if name is CommandName.RESET_SESSION:
        ready = _READY.search(output)
        return {"kind": "reset", "ready_ms": int(ready.group(1)) if ready else None}
    if name is CommandName.EXTEND_SESSION:
        ends = _ENDS_AT.search(output)
        return {"kind": "extended", "ends_at": _instant(ends.group(1)) if ends else None}
    return {"kind": DONE_KINDS.get(name, "done")}


def _instant(text: str) -> str | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.isoformat() if moment.tzinfo is not None else None


def outcome_line(outcome: dict[str, Any] | None) -> str:
    """``outcome`` (:func:`outcome_of`) as one line in the reader's language; "" for none."""
    if outcome is None:
        return ""
    kind = outcome.get("kind")
    if kind == "reset":
        if outcome.get("ready_ms") is None:
            return _("Reset: ready for the next resident")
        return _("Reset: ready in %(ms)s ms", ms=outcome["ready_ms"])
    if kind == "extended":
        if not outcome.get("ends_at"):
            return _("More time given")
        ends = datetime.fromisoformat(outcome["ends_at"])
        return _("More time: the session now ends at %(time)s", time=format_datetime(ends, "HH:mm"))
    if kind == "failed":
        reason = outcome.get("reason") or _("the device gave no reason")
        return _("Failed: %(reason)s", reason=reason)
    return done_words().get(str(kind), _("Done"))


def done_words() -> dict[str, str]:
    """The one-line outcomes that need no value, in the reader's language; app.js gets them
    too (``command_words_of_page``)."""
    return {
        "expired": _("Not run: the device did not take it in time"),
        "locked": _("Screen locked"),
        "unlocked": _("Screen unlocked"),
        "shown": _("Message shown"),
        "restarting": _("Restarting"),
        "shutting_down": _("Shutting down"),
        "wake_sent": _("Wake-up sent"),
        "updated": _("Updates installed"),
        "configured": _("Settings applied"),
        "logs": _("Logs collected"),
        "done": _("Done"),
    }
