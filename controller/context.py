"""What a request handler reaches through the current app: settings, database, session."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.db import Database, write_transaction


def settings_of(app: Flask) -> ControllerSettings:
    settings: ControllerSettings = app.extensions["borne.settings"]
    return settings


def database_of(app: Flask) -> Database:
    database: Database = app.extensions["borne.db"]
    return database


def db_session() -> Session:
    """The request's session; views commit explicitly, anything uncommitted is rolled back.

    A request that may change something (not GET or HEAD) begins a writing transaction: with
    SQLite it waits for another writer instead of failing (``controller.db.write_transaction``).
    """
    if "db_session" not in g:
        session = database_of(current_app).sessions()
        if has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS"):
            write_transaction(session)
        g.db_session = session
    session_: Session = g.db_session
    return session_


def close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
