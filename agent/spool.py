"""The offline spool: every event is written here first, then sent, then forgotten once acked.

``<state_dir>/spool.sqlite3`` (WAL) holds the events not yet acknowledged, the sequence counter
(so ``seq`` keeps increasing across restarts and after the table empties) and the ids of commands
already executed (so a command delivered twice runs once, even across a restart).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from agent.protocol import MAX_BATCH, AgentEvent, EventBatch

log = logging.getLogger(__name__)

SPOOL_FILE = "spool.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counter (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq  INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, seq);
CREATE TABLE IF NOT EXISTS executed_commands (
    command_id  TEXT PRIMARY KEY,
    executed_at REAL NOT NULL
);
"""

_event_decoder = msgspec.json.Decoder(AgentEvent)
_encoder = msgspec.json.Encoder()


class Spool:
    """Events waiting for the controller, in ``seq`` order; capped at ``max_events``.

    When full, the oldest heartbeats go first: they are the least valuable (the next one says the
    same, fresher); inventory reports are dropped only if nothing else is left.
    """

    def __init__(
        self, path: Path, *, max_events: int = 50_000, clock: Callable[[], float] = time.time
    ):
        self.path = Path(path)
        self.max_events = max_events
        self._clock = clock
        # The Socket.IO client calls back from its own threads (commands, later): one lock.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a seq the controller has seen must never be handed out again after a power cut.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._count: int = self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        self._dropped_in_overflow = 0

    # -- events ---------------------------------------------------------------------------------

    def append(self, build: Callable[[int], AgentEvent]) -> AgentEvent:
        """Give ``build`` the next ``seq``, store the event it returns, and return it."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT value FROM counter WHERE name = 'seq'").fetchone()
            seq = (row[0] if row else 0) + 1
            event = build(seq)
            if event.seq != seq:
                raise ValueError(f"event built with seq {event.seq}, expected {seq}")
            self._db.execute(
                "INSERT INTO counter (name, value) VALUES ('seq', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (seq,),
            )
            self._db.execute(
                "INSERT INTO events (seq, type, body) VALUES (?, ?, ?)",
                (seq, _event_type(event), _encoder.encode(event)),
            )
            self._count += 1
            if self._count > self.max_events:
                self._drop_oldest(self._count - self.max_events)
            return event

    def pending_batch(self, limit: int = MAX_BATCH) -> EventBatch | None:
        """The oldest events not yet acknowledged, in order, or None when there are none."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM events ORDER BY seq LIMIT ?", (min(limit, MAX_BATCH),)
            ).fetchall()
        if not rows:
            return None
        return EventBatch(events=[_event_decoder.decode(body) for (body,) in rows])

    def ack(self, acked_seq: int) -> int:
        """Forget every event with ``seq <= acked_seq``; return how many were forgotten."""
        return self._delete("DELETE FROM events WHERE seq <= ?", (acked_seq,))

    def discard(self, batch: EventBatch) -> int:
        """Forget the events of a batch the controller refused as invalid (it would never pass)."""
        seqs = [(event.seq,) for event in batch.events]
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany("DELETE FROM events WHERE seq = ?", seqs)
            removed = self._db.total_changes - before
            self._count -= removed
            return removed

    def continue_after(self, controller_seq: int) -> int:
        """The controller holds events of this device up to ``controller_seq`` while this spool
        numbers its own from below: the spool was lost (a disk replaced, a reinstall), and its
        counter started again at 1. Number the events waiting here, in order, after
        ``controller_seq``, and go on from there, so they are stored instead of being taken for
        replays of events already stored. Returns how far they moved."""
        with self._lock, self._transaction():
            rows = self._db.execute("SELECT seq, body FROM events ORDER BY seq").fetchall()
            row = self._db.execute("SELECT value FROM counter WHERE name = 'seq'").fetchone()
            counter = row[0] if row else 0
            first = rows[0][0] if rows else counter + 1
            offset = max(controller_seq + 1 - first, 0)
            if not offset:
                return 0
            self._db.execute("DELETE FROM events")
            for seq, body in rows:
                event = _event_decoder.decode(body)
                event.seq = seq + offset
                self._db.execute(
                    "INSERT INTO events (seq, type, body) VALUES (?, ?, ?)",
                    (event.seq, _event_type(event), _encoder.encode(event)),
                )
            self._db.execute(
                "INSERT INTO counter (name, value) VALUES ('seq', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (counter + offset,),
            )
            return offset

    def __len__(self) -> int:
        return self._count

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest event ever spooled (0 before the first)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counter WHERE name = 'seq'").fetchone()
        return row[0] if row else 0

    # -- executed commands ----------------------------------------------------------------------

    def remember_executed(self, command_id: str) -> None:
        """Record that a command ran, before reporting it, so it never runs twice."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO executed_commands (command_id, executed_at) VALUES (?, ?)",
                (command_id, self._clock()),
            )

    def was_executed(self, command_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM executed_commands WHERE command_id = ?", (command_id,)
            ).fetchone()
        return row is not None

    def forget_executed_before(self, timestamp: float) -> int:
        """Prune ids of commands executed before ``timestamp`` (older than any redelivery)."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM executed_commands WHERE executed_at < ?", (timestamp,)
            )
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- internals ------------------------------------------------------------------------------

    def _delete(self, sql: str, params: tuple[int, ...]) -> int:
        with self._lock:
            removed = self._db.execute(sql, params).rowcount
            self._count -= removed
            if self._count <= self.max_events:
                self._dropped_in_overflow = 0
            return removed

    def _drop_oldest(self, excess: int) -> None:
        removed = self._db.execute(
            "DELETE FROM events WHERE seq IN "
            "(SELECT seq FROM events WHERE type = 'heartbeat' ORDER BY seq LIMIT ?)",
            (excess,),
        ).rowcount
        if removed < excess:  # nothing but inventory reports left: drop the oldest of those
            removed += self._db.execute(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)",
                (excess - removed,),
            ).rowcount
        self._count -= removed
        # One line when the spool fills up, then one per thousand drops: enough to see it in the
        # log after a long outage without one line per heartbeat.
        if self._dropped_in_overflow % 1000 == 0:
            log.warning(
                "spool full (%d events): dropped the oldest heartbeat(s), %d so far in this outage",
                self.max_events,
                self._dropped_in_overflow + removed,
            )
        self._dropped_in_overflow += removed

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _event_type(event: AgentEvent) -> str:
    tag = type(event).__struct_config__.tag  # "heartbeat", "inventory", "command_result"
    return str(tag)
