"""Signals go out once the change they announce is committed (controller/signals.py), never from
a transaction that may still roll back."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from blinker import Namespace
from sqlalchemy.orm import Session

from controller import signals
from controller.fleet import enrolment
from tests.factories import enrol_request, make_site

TEST_SIGNALS = Namespace()  # signals of the tests' own, so no receiver of the app hears them


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


@pytest.fixture
def heard():
    """A signal of the test's own, and what its receiver heard."""
    signal = TEST_SIGNALS.signal("test-signal")
    received = []

    def receiver(sender, **kw):
        received.append(sender)

    signal.connect(receiver)
    yield signal, received
    signal.disconnect(receiver)


def test_a_savepoint_released_waits_for_the_outermost_commit(db, heard):
    signal, received = heard
    with db.begin_nested():
        signals.send_after_commit(db, signal, "inside")
    assert received == []
    db.rollback()  # the whole transaction goes: the savepoint's change with it
    db.commit()
    assert received == []


def test_a_savepoint_rolled_back_takes_only_its_own_signals(db, heard):
    signal, received = heard
    signals.send_after_commit(db, signal, "before")
    savepoint = db.begin_nested()
    signals.send_after_commit(db, signal, "inside")
    savepoint.rollback()
    signals.send_after_commit(db, signal, "after")
    db.commit()
    assert received == ["before", "after"]


def test_a_session_closed_without_commit_announces_nothing(engine, heard):
    signal, received = heard
    session = Session(engine)
    signals.send_after_commit(session, signal, "never")
    session.close()
    assert received == []


def test_a_failing_receiver_does_not_undo_the_commit_nor_silence_the_others(db, caplog):
    signal = TEST_SIGNALS.signal("test-signal-failing")
    received = []

    def broken(sender, **kw):
        raise RuntimeError("receiver bug")

    def listener(sender, **kw):
        received.append(sender)

    signal.connect(broken)
    signal.connect(listener)
    signals.send_after_commit(db, signal, "one")
    signals.send_after_commit(db, signal, "two")
    with caplog.at_level(logging.ERROR, logger="controller.signals"):
        db.commit()
    assert received == ["one", "two"]
    assert "a receiver of test-signal-failing failed" in caplog.text
