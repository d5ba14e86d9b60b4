"""The kiosk's durable state: its lockers, the codes' hashes, the wrong codes, the open incidents
and the events not yet handed to the spool — ``<state_dir>/kiosk.sqlite3``.

Why SQLite (WAL, ``synchronous=FULL``) rather than a JSON file written whole (temp file, fsync,
rename, fsync of the directory): a change is several records at once — a locker's state, the
incident it raises, the event that tells the controller — and a transaction writes them
together or not at all, with one fsync of the write-ahead log at commit instead of three
syncs of a rewritten file; a crash mid-write leaves the last committed state, which SQLite
has been tested for far more than any home-made rename dance. The agent already keeps its
spool this way (:mod:`agent.spool`), so the kiosk adds no new kind of file to look after.

``synchronous=FULL`` is what makes a commit durable in WAL mode (``NORMAL`` may lose the last
transactions at a power cut): when :meth:`Store.change` returns, the change is on the disk —
the bank relies on it before a door opens or a code is shown.

Events (a charging session, an incident, a staff opening) are written in the same transaction
as the state they describe, into an outbox, then moved to the spool (:meth:`Store.pending_events`,
:meth:`Store.forget_event`): a power cut between the two loses neither. They are stored with
``seq`` :data:`UNNUMBERED`; the spool numbers them when it takes them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from agent.protocol import (
    AgentEvent,
    ChargingEnd,
    ChargingSession,
    LockerIncident,
    LockerIncidentKind,
    LockerState,
    StaffOpening,
)

STORE_FILE = "kiosk.sqlite3"
SCHEMA_VERSION = 1
# The seq of an event in the outbox: the spool gives it its real one.
UNNUMBERED = 1
# Locker 0 in the incidents and attempts tables: the kiosk as a whole (the driver, the keypad)
# and the staff's PINs.
WHOLE_KIOSK = 0

OutboxEvent = ChargingSession | LockerIncident | StaffOpening

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lockers (
    number       INTEGER PRIMARY KEY,
    state        TEXT NOT NULL,
    since        TEXT NOT NULL,
    code_hash    TEXT,
    started_at   TEXT,
    opening      TEXT,
    wrong_codes  INTEGER NOT NULL DEFAULT 0,
    pauses       INTEGER NOT NULL DEFAULT 0,
    paused_until TEXT
);
CREATE TABLE IF NOT EXISTS incidents (
    kind      TEXT NOT NULL,
    locker    INTEGER NOT NULL,
    raised_at TEXT NOT NULL,
    PRIMARY KEY (kind, locker)
);
CREATE TABLE IF NOT EXISTS attempts (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    locker INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS keypad (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    paused_until TEXT,
    pauses       TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS outbox (
    id   INTEGER PRIMARY KEY,
    body BLOB NOT NULL
);
"""

_encoder = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(AgentEvent)


class StoreError(Exception):
    """The kiosk's state file cannot be used (the message names it and says why)."""


@dataclass(frozen=True)
class Opening:
    """A door opening written before its door command, so that a power cut between the two is
    finished or undone at the next start, by what the door sensor then says."""

    by: ChargingEnd  # CODE, STAFF or REMOTE
    staff: str = ""
    reason: str = ""


@dataclass(frozen=True)
class LockerRecord:
    """One locker as the bank keeps it. Never who, never the code itself."""

    number: int
    state: LockerState
    since: datetime  # when it entered ``state``
    code_hash: str | None = None  # OCCUPIED and OVERTIME: the salted hash of its code
    started_at: datetime | None = None  # when the phone went in (the code was shown)
    opening: Opening | None = None
    wrong_codes: int = 0  # wrong codes in a row since the last pause or right code
    pauses: int = 0  # pauses so far during this phone's stay (each one twice as long)
    paused_until: datetime | None = None


@dataclass(frozen=True)
class KeypadRecord:
    """The whole keypad: paused until when, and when it was paused lately (each pause of a day
    is longer than the one before)."""

    paused_until: datetime | None = None
    pauses: tuple[datetime, ...] = ()


class Store:
    """The kiosk's state file. Safe to share between threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                self._db.close()
                raise StoreError(
                    f"{self.path} was written by a newer agent (schema {version}, this one "
                    f"reads {SCHEMA_VERSION}): upgrade the agent, do not delete the file (the "
                    "codes of the phones inside are in it)"
                )
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the kiosk's state file {self.path} cannot be read: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reading ----------------------------------------------------------------------------------

    def lockers(self) -> dict[int, LockerRecord]:
        with self._lock:
            rows = self._db.execute(_SELECT_LOCKERS + " ORDER BY number")
            return {record.number: record for record in map(_locker, rows.fetchall())}

    def locker(self, number: int) -> LockerRecord | None:
        with self._lock:
            return _read_locker(self._db, number)

    def incidents(self) -> set[tuple[LockerIncidentKind, int | None]]:
        """The incidents raised and not resolved: (kind, locker or None for the whole kiosk)."""
        with self._lock:
            rows = self._db.execute("SELECT kind, locker FROM incidents").fetchall()
        return {(LockerIncidentKind(kind), locker or None) for kind, locker in rows}

    def keypad(self) -> KeypadRecord:
        with self._lock:
            return _read_keypad(self._db)

    def pending_events(self) -> list[tuple[int, OutboxEvent]]:
        """Events written with a change and not yet in the spool, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, body FROM outbox ORDER BY id").fetchall()
        events = []
        for row_id, body in rows:
            event = _event_decoder.decode(body)
            assert isinstance(event, ChargingSession | LockerIncident | StaffOpening)
            events.append((row_id, event))
        return events

    def forget_event(self, row_id: int) -> None:
        """The event is in the spool now."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    # -- writing ----------------------------------------------------------------------------------

    def ensure_lockers(self, count: int, now: datetime) -> None:
        """Lockers 1 … ``count`` exist (free and shut, the first time)."""
        with self.change() as change:
            for number in range(1, count + 1):
                if _read_locker(self._db, number) is None:
                    change.put(LockerRecord(number, LockerState.FREE, since=now))

    @contextmanager
    def change(self) -> Iterator[Change]:
        """One transaction: everything done on the :class:`Change` is on disk when the block
        ends, or nothing is if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield Change(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


class Change:
    """What one transaction of :meth:`Store.change` writes (and reads, within it)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def locker(self, number: int) -> LockerRecord | None:
        return _read_locker(self._db, number)

    def put(self, record: LockerRecord) -> None:
        opening = record.opening
        self._db.execute(
            _PUT_LOCKER,
            (
                record.number,
                record.state.value,
                _moment(record.since),
                record.code_hash,
                _moment(record.started_at),
                json.dumps(
                    {"by": opening.by.value, "staff": opening.staff, "reason": opening.reason}
                )
                if opening is not None
                else None,
                record.wrong_codes,
                record.pauses,
                _moment(record.paused_until),
            ),
        )

    def event(self, event: OutboxEvent) -> None:
        """Hand ``event`` (built with seq :data:`UNNUMBERED`) to the spool once committed."""
        self._db.execute("INSERT INTO outbox (body) VALUES (?)", (_encoder.encode(event),))

    def raise_incident(
        self, kind: LockerIncidentKind, locker: int | None, at: datetime, message: str
    ) -> bool:
        """Raise it unless it is raised already; whether it was new."""
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO incidents (kind, locker, raised_at) VALUES (?, ?, ?)",
            (kind.value, locker or WHOLE_KIOSK, _moment(at)),
        ).rowcount
        if inserted:
            self.event(
                LockerIncident(
                    seq=UNNUMBERED, at=at, kind=kind, locker=locker, message=_text(message)
                )
            )
        return bool(inserted)

    def resolve_incident(
        self, kind: LockerIncidentKind, locker: int | None, at: datetime, message: str = ""
    ) -> bool:
        """Resolve it if it is raised; whether it was."""
        deleted = self._db.execute(
            "DELETE FROM incidents WHERE kind = ? AND locker = ?",
            (kind.value, locker or WHOLE_KIOSK),
        ).rowcount
        if deleted:
            self.event(
                LockerIncident(
                    seq=UNNUMBERED,
                    at=at,
                    kind=kind,
                    locker=locker,
                    resolved=True,
                    message=_text(message),
                )
            )
        return bool(deleted)

    def attempt(self, at: datetime, locker: int) -> None:
        """A wrong code on ``locker`` (:data:`WHOLE_KIOSK`: a wrong staff PIN)."""
        self._db.execute("INSERT INTO attempts (at, locker) VALUES (?, ?)", (_moment(at), locker))

    def attempts_since(self, since: datetime) -> list[tuple[datetime, int]]:
        # Older ones count no more: they go (the table stays a few rows long).
        self._db.execute("DELETE FROM attempts WHERE at < ?", (_moment(since),))
        rows = self._db.execute("SELECT at, locker FROM attempts ORDER BY id").fetchall()
        return [(datetime.fromisoformat(at), locker) for at, locker in rows]

    def forget_attempts(self) -> None:
        self._db.execute("DELETE FROM attempts")

    def keypad(self) -> KeypadRecord:
        return _read_keypad(self._db)

    def put_keypad(self, record: KeypadRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO keypad (id, paused_until, pauses) VALUES (1, ?, ?)",
            (
                _moment(record.paused_until),
                json.dumps([_moment(moment) for moment in record.pauses]),
            ),
        )


# -- rows -----------------------------------------------------------------------------------------

_SELECT_LOCKERS = (
    "SELECT number, state, since, code_hash, started_at, opening, wrong_codes, pauses, "
    "paused_until FROM lockers"
)
_PUT_LOCKER = (
    "INSERT OR REPLACE INTO lockers (number, state, since, code_hash, started_at, opening, "
    "wrong_codes, pauses, paused_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _read_locker(db: sqlite3.Connection, number: int) -> LockerRecord | None:
    row = db.execute(_SELECT_LOCKERS + " WHERE number = ?", (number,))
    found = row.fetchone()
    return _locker(found) if found is not None else None


def _locker(row: tuple[object, ...]) -> LockerRecord:
    number, state, since, code_hash, started_at, opening, wrong, pauses, paused_until = row
    assert isinstance(number, int) and isinstance(state, str) and isinstance(since, str)
    assert isinstance(wrong, int) and isinstance(pauses, int)
    assert code_hash is None or isinstance(code_hash, str)
    parsed_opening = None
    if isinstance(opening, str):
        data = json.loads(opening)
        parsed_opening = Opening(ChargingEnd(data["by"]), data["staff"], data["reason"])
    return LockerRecord(
        number=number,
        state=LockerState(state),
        since=datetime.fromisoformat(since),
        code_hash=code_hash,
        started_at=_parse(started_at),
        opening=parsed_opening,
        wrong_codes=wrong,
        pauses=pauses,
        paused_until=_parse(paused_until),
    )


def _read_keypad(db: sqlite3.Connection) -> KeypadRecord:
    row = db.execute("SELECT paused_until, pauses FROM keypad WHERE id = 1").fetchone()
    if row is None:
        return KeypadRecord()
    paused_until, pauses = row
    return KeypadRecord(
        paused_until=_parse(paused_until),
        pauses=tuple(datetime.fromisoformat(moment) for moment in json.loads(pauses)),
    )


def _moment(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime cannot be stored: {moment!r}")
    # One width for every moment, so that they also sort as text (the attempts' window).
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _text(message: str, limit: int = 200) -> str:
    """At most ``limit`` characters (the wire's ``Text``)."""
    return message if len(message) <= limit else message[: limit - 1] + "…"
