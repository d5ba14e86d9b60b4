"""The database: one engine per app, SQLite in WAL mode by default, PostgreSQL for a city; the
declarative ``Base`` every domain's models share (one metadata, one Alembic history).

Tables change only through Alembic migrations (``controller/migrations``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
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
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
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
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
