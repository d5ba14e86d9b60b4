"""The kiosk's state file (agent/kiosk/store.py): durable commits, all or nothing, readable by
the next agent, refused when a newer one wrote it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from kiosk_testkit import START

from agent.kiosk.store import STORE_FILE, LockerRecord, Opening, Store, StoreError
from agent.protocol import ChargingEnd, ChargingSession, LockerIncidentKind, LockerState


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / STORE_FILE


def test_a_commit_is_synced_to_disk_in_wal_mode(path: Path) -> None:
    store = Store(path)
    store.ensure_lockers(2, START)
    db = store._db  # what the store set on its own connection

    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def test_what_one_store_commits_another_reads(path: Path) -> None:
    store = Store(path)
    store.ensure_lockers(3, START)
    opening = Opening(ChargingEnd.STAFF, "alice", "jammed")
    with store.change() as change:
        change.put(
            LockerRecord(
                2,
                LockerState.OCCUPIED,
                since=START,
                code_hash="scrypt$…",
                started_at=START,
                opening=opening,
                wrong_codes=3,
            )
        )
        change.raise_incident(LockerIncidentKind.OVERTIME, 2, START, "too long")
    store.close()

    again = Store(path)

    record = again.locker(2)
    assert record is not None
    assert (record.state, record.code_hash, record.opening, record.wrong_codes) == (
        LockerState.OCCUPIED,
        "scrypt$…",
        opening,
        3,
    )
    assert record.since == START and record.since.tzinfo is not None
    assert again.incidents() == {(LockerIncidentKind.OVERTIME, 2)}
    assert [event.kind for _, event in again.pending_events()] == [LockerIncidentKind.OVERTIME]
    again.close()


def test_a_change_that_fails_writes_nothing(path: Path) -> None:
    store = Store(path)
    store.ensure_lockers(1, START)

    with pytest.raises(RuntimeError), store.change() as change:
        change.put(LockerRecord(1, LockerState.DEPOSIT, since=START))
        change.event(
            ChargingSession(
                seq=1,
                at=START,
                locker=1,
                started_at=START,
                ended_at=START,
                ended_by=ChargingEnd.ABANDONED,
            )
        )
        raise RuntimeError("the power went")

    record = store.locker(1)
    assert record is not None and record.state is LockerState.FREE
    assert store.pending_events() == []
    store.close()


def test_an_incident_is_raised_and_resolved_once(path: Path) -> None:
    store = Store(path)
    with store.change() as change:
        raised = [change.raise_incident(LockerIncidentKind.DRIVER_DOWN, None, START, "x")]
        raised.append(change.raise_incident(LockerIncidentKind.DRIVER_DOWN, None, START, "x"))
        resolved = [change.resolve_incident(LockerIncidentKind.DRIVER_DOWN, None, START)]
        resolved.append(change.resolve_incident(LockerIncidentKind.DRIVER_DOWN, None, START))

    assert raised == [True, False] and resolved == [True, False]
    events = [event for _, event in store.pending_events()]
    assert [(e.kind, e.locker, e.resolved) for e in events] == [  # type: ignore[union-attr]
        (LockerIncidentKind.DRIVER_DOWN, None, False),
        (LockerIncidentKind.DRIVER_DOWN, None, True),
    ]
    store.close()


def test_a_file_written_by_a_newer_agent_is_refused_and_left_alone(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 7")
    db.close()

    with pytest.raises(StoreError, match="newer agent"):
        Store(path)
    assert path.exists()


def test_a_file_that_is_not_a_database_says_which_file(path: Path) -> None:
    path.write_bytes(b"not a database, " * 100)

    with pytest.raises(StoreError, match=str(path)):
        Store(path)
