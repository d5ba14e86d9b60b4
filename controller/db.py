"""The database: one engine per app, SQLite in WAL mode by default, PostgreSQL for a city; the
declarative ``Base`` every domain's models share (one metadata, one Alembic history).

Tables change only through Alembic migrations (``controller/migrations``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names, so that migrations can alter them on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """The declarative base of every domain's tables."""

    metadata = MetaData(naming_convention=NAMING)


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()  # several times faster than json.dumps


def make_engine(url: str, *, sqlite_synchronous: str = "normal", **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", _json)
    kwargs.setdefault("json_deserializer", msgspec.json.decode)
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(
            engine, "connect", lambda conn, record: _sqlite_pragmas(conn, sqlite_synchronous)
        )
        # pysqlite's own BEGIN handling is broken with SAVEPOINTs: SQLAlchemy's recipe.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _private_sqlite_file(url: str) -> None:
    """Make the database file readable by the controller's user only (0600) before SQLite opens
    it: it holds password hashes and each hotspot's code secret. SQLite gives its -wal and -shm
    files the permissions of the database file."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    file = Path(path)
    if not file.parent.is_dir():
        return  # SQLite will say so, with the path
    if file.exists():
        if file.stat().st_uid == os.getuid() and file.stat().st_mode & 0o077:
            file.chmod(0o600)
    else:
        file.touch(mode=0o600)


# A connection's execution option: its transaction will write (see write_transaction).
WRITES = "borne_writes"


BUSY_WAIT_S = 30.0  # as long as busy_timeout: a writer waits this long for another


def _sqlite_begin(connection: Connection) -> None:
    # A transaction that will write takes the write lock at BEGIN. Begun deferred, it would read
    # first and then fail at once ("database is locked") when upgrading, if another writer had
    # committed in between: SQLite cannot wait there, its snapshot being stale. Readers stay
    # deferred, so they never queue behind a writer.
    if connection.get_execution_options().get(WRITES, False):
        _begin_immediate(connection)
    else:
        connection.exec_driver_sql("BEGIN")


def _begin_immediate(connection: Connection) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock in Python rather than in SQLite's busy
    handler: that one sleeps in C, which under gevent stops every greenlet of the process,
    the lock's holder among them when it waits on something (a password check off the hub,
    a socket), so nobody moves until the timeout. time.sleep lets the others run."""
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    deadline = time.monotonic() + BUSY_WAIT_S
    pause = 0.001
    try:
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(BUSY_WAIT_S * 1000)}")


def write_transaction(session: Session) -> Session:
    """Say that ``session``'s next transaction will write (SQLite: it begins IMMEDIATE, and
    waits its turn rather than fails). Call before its first query; harmless on PostgreSQL."""
    if not session.in_transaction():
        session.connection(execution_options={WRITES: True})
    return session


def _sqlite_pragmas(dbapi_connection: Any, synchronous: str) -> None:
    dbapi_connection.isolation_level = None  # BEGIN is issued by the "begin" listener
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL (in WAL mode): a commit survives the controller's crash (kill -9), not a power
    # cut, and costs no fsync; a blocking fsync would stall every greenlet of the process.
    # FULL: each commit waits for the disk. PostgreSQL gives full durability without the stall.
    cursor.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Database:
    """The engine and session factory of one app."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        """``engine_kwargs`` go to :func:`make_engine` (``sqlite_synchronous`` among them)."""
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self, *, writes: bool = True) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back on error. ``writes=False``
        for reads only (a health check, a scrape): with SQLite they never wait for a writer."""
        with self.sessions() as session:
            if writes:
                write_transaction(session)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
