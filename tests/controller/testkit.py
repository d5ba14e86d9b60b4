"""What the controller's tests share: signing in through the real form, reading pages as a person
does, counting rows. Imported by test modules; fixtures live in conftest.py."""

from __future__ import annotations

import html
import re
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from controller.accounts.models import User
from controller.audit import AuditLog
from tests.factories import PASSWORD

DEMO_PLACES = Path(__file__).resolve().parents[2] / "controller" / "data" / "demo-places.csv"

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, user: User, password: str = PASSWORD, next_: str = ""):
    """Sign in through the login form, CSRF token included; the form's answer."""
    return client.post(
        "/login",
        data={
            "username": user.username,
            "password": password,
            "csrf_token": csrf_token(client),
            "next": next_,
        },
    )


def page_text(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


def words(answer) -> str:
    """The page's text as a person reads it: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", page_text(answer)).split())


def count(where: Session | Path, model) -> int:
    """Rows of ``model`` in a session's database, or in the SQLite file of a data directory
    (where the ``run`` fixture's commands wrote)."""
    query = select(func.count()).select_from(model)
    if isinstance(where, Path):
        engine = create_engine(f"sqlite:///{where / 'borne.sqlite3'}")
        try:
            with engine.connect() as connection:
                return connection.scalar(query)
        finally:
            engine.dispose()
    return where.scalar(query)


def audit_actions(db, user: User) -> list[str]:
    query = select(AuditLog.action).where(AuditLog.actor_id == user.id).order_by(AuditLog.id)
    return list(db.scalars(query))


def send(client, path: str, command: str, *, json_: bool = False, **fields):
    """Post a command button's form of the page at ``path`` (a device's or a site's)."""
    data = {"command": command, "csrf_token": csrf_token(client, path), **fields}
    headers = {"Accept": "application/json"} if json_ else {}
    return client.post(f"{path}/commands", data=data, headers=headers)


TIMEZONE = "Europe/Paris"  # the controller's default
