"""Side effects other parts react to, announced with blinker (monitoring, tickets, live pages).

Senders do not know their receivers. Each signal's sender is a device id.

A signal tells that something happened, so it goes out only once the change is committed: a
domain function that runs inside a transaction calls :func:`send_after_commit`, which holds the
signal on the session until its transaction commits, and drops it if the transaction rolls back.
Code that runs after its own commit (the ingest's writer, the periodic jobs) sends directly.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace, Signal
from sqlalchemy import event
from sqlalchemy.orm import Session

_signals = Namespace()

device_enrolled = _signals.signal("device-enrolled")  # site_id, kind
device_status_changed = _signals.signal("device-status-changed")  # old, new, site_id
alert_raised = _signals.signal("alert-raised")  # alert_id, kind, message
alert_resolved = _signals.signal("alert-resolved")  # alert_id, kind
wipe_reported = _signals.signal("wipe-reported")  # site_id, clean, summary (a dict for pages)

_PENDING = "borne.signals_after_commit"


def send_after_commit(session: Session, signal: Signal, sender: str, **kwargs: Any) -> None:
    """Send ``signal`` once ``session``'s transaction commits; never if it rolls back."""
    session.info.setdefault(_PENDING, []).append((signal, sender, kwargs))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for signal, sender, kwargs in session.info.pop(_PENDING, []):
        signal.send(sender, **kwargs)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
