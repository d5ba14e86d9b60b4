"""The database: one engine per app, SQLite in WAL mode by default, PostgreSQL for a city."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()  # several times faster than json.dumps


def make_engine(url: str, *, sqlite_synchronous: str = "normal", **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", _json)
    kwargs.setdefault("json_deserializer", msgspec.json.decode)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(
            engine, "connect", lambda conn, record: _sqlite_pragmas(conn, sqlite_synchronous)
        )
        # pysqlite's own BEGIN handling is broken with SAVEPOINTs: SQLAlchemy's recipe.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


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
