"""Signals go out once the change they announce is committed (controller/signals.py), never from
a transaction that may still roll back."""

from __future__ import annotations

from datetime import timedelta

from controller import signals
from controller.fleet import enrolment
from tests.factories import enrol_request, make_site


def listen(signal):
    heard = []

    def receiver(sender, **kwargs):
        heard.append((sender, kwargs))

    signal.connect(receiver)
    return heard, lambda: signal.disconnect(receiver)


def test_a_signal_waits_for_the_commit(db):
    heard, stop = listen(signals.device_enrolled)
    try:
        issued = enrolment.create_token(db, "cli", make_site(db), ttl=timedelta(hours=1))
        answer = enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)
        assert heard == []  # not yet: the enrolment could still be rolled back
        db.commit()
    finally:
        stop()
    assert [sender for sender, _ in heard] == [answer.device_id]


def test_a_rolled_back_change_is_never_announced(db):
    heard, stop = listen(signals.device_enrolled)
    try:
        issued = enrolment.create_token(db, "cli", make_site(db), ttl=timedelta(hours=1))
        enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)
        db.rollback()
        db.commit()  # a later commit of the same session does not bring it back
    finally:
        stop()
    assert heard == []
