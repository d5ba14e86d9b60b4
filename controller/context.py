"""What a request handler reaches through the current app: settings, database, session."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.db import Database


def settings_of(app: Flask) -> ControllerSettings:
    settings: ControllerSettings = app.extensions["borne.settings"]
    return settings


def database_of(app: Flask) -> Database:
    database: Database = app.extensions["borne.db"]
    return database


def db_session() -> Session:
    """The request's session; views commit explicitly, anything uncommitted is rolled back."""
    if "db_session" not in g:
        g.db_session = database_of(current_app).sessions()
    session: Session = g.db_session
    return session


def close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
