"""Side effects other parts react to, announced with blinker (monitoring, tickets, live pages).

Senders do not know their receivers. Each signal's sender is a device id.

A signal tells that something happened, so it goes out only once the change is committed: a
domain function that runs inside a transaction calls :func:`send_after_commit`, which holds the
signal on the transaction in progress. When a savepoint is released its signals pass to the
transaction around it; when the outermost transaction commits they go out; whatever rolls back
(the whole transaction or one savepoint) takes its own signals with it. Code that runs after its
own commit (the ingest's writer, the periodic jobs) sends directly.
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace, Signal
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)
_signals = Namespace()

device_enrolled = _signals.signal("device-enrolled")  # site_id, kind
device_status_changed = _signals.signal("device-status-changed")  # old, new, site_id
alert_raised = _signals.signal("alert-raised")  # alert_id, kind, message
alert_resolved = _signals.signal("alert-resolved")  # alert_id, kind
ticket_changed = _signals.signal("ticket-changed")  # sender: ticket id; site_id, event
wipe_reported = _signals.signal("wipe-reported")  # site_id, clean, summary (a dict for pages)
device_moved = _signals.signal("device-moved")  # sender: device id; site_id (new), kind
site_hours_changed = _signals.signal("site-hours-changed")  # sender: site id; site_id, hours

_PENDING = "borne.signals_after_commit"  # in session.info: {transaction: [(signal, sender, kw)]}
_COMMITTED = "borne.signals_committed"  # in session.info: transactions that committed

Pending = list[tuple[Signal, str, dict[str, Any]]]


def send_after_commit(session: Session, signal: Signal, sender: str, **kwargs: Any) -> None:
    """Send ``signal`` once ``session``'s outermost transaction commits; never if the part of
    the transaction it was sent in rolls back, or the session closes without committing."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:
        transaction = session.begin()
    pending: dict[SessionTransaction, Pending] = session.info.setdefault(_PENDING, {})
    pending.setdefault(transaction, []).append((signal, sender, kwargs))


def _send(signals: Pending) -> None:
    """Each receiver on its own: the change is committed, so one receiver's failure must
    neither fail the request that made it nor keep the other receivers from hearing it."""
    for signal, sender, kwargs in signals:
        for receiver in signal.receivers_for(sender):
            try:
                receiver(sender, **kwargs)
            except Exception:
                log.exception("a receiver of %s failed", getattr(signal, "name", signal))


# Registered on the Session class, so that every session (the app's, the tests', the command
# line's) keeps its signals until the commit. SQLAlchemy announces the commit of the outermost
# transaction and of each savepoint, then the end of every transaction, committed or not.
@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    committed = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_COMMITTED, set()).add(committed)


@event.listens_for(Session, "after_transaction_end")
def _pass_on_or_send(session: Session, transaction: SessionTransaction) -> None:
    pending: dict[SessionTransaction, Pending] = session.info.get(_PENDING, {})
    committed: set[SessionTransaction] = session.info.get(_COMMITTED, set())
    signals = pending.pop(transaction, [])
    if transaction.parent is not None and not transaction.nested:
        # A subtransaction (a flush): it neither commits nor rolls back on its own.
        if signals:
            pending.setdefault(transaction.parent, []).extend(signals)
        return
    if transaction not in committed:
        return  # rolled back, or closed without a commit: nothing happened
    committed.discard(transaction)
    if transaction.parent is not None:  # a savepoint: its signals wait with the transaction around
        if signals:
            pending.setdefault(transaction.parent, []).extend(signals)
        return
    _send(signals)
