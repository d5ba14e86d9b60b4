"""Shared fixtures: databases (SQLite and a real PostgreSQL), the app, a client, factories.

Database tests run on both backends. Migrations are applied once per backend; each test runs in a
transaction rolled back at its end (SQLAlchemy's ``join_transaction_mode="create_savepoint"``), so
tests stay fast and independent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from controller.db import make_engine
from tests.postgres import create_database, postgres_server
from tests.ssh_server import SshServer, running_sshd

BACKENDS = ["sqlite", "postgresql"]

# Commands run by the tests, in this process or as children, speak English (their msgids), as the
# pages do for EnglishReader; French, the default, has tests of its own (a test that wants a
# French terminal sets LANGUAGE itself).
os.environ["LANGUAGE"] = "en"


# Tests that change the machine itself — real accounts and the files of their uids, cupsd,
# network namespaces and nftables, mount namespaces — are marked "machine": make test runs them
# one after the other (with the browser tests), then every other test on two workers, since
# each has its own ports, directories and databases.
MACHINE_WIDE = (
    "tests/agent/test_pc_",
    "tests/captive_portal/",
    "tests/e2e/test_pc_reset.py",
    "tests/e2e/test_portal_lab.py",
    "tests/e2e/test_maintenance_flow.py",
    # Over a real sshd as root: they install into /opt and /etc of this machine.
    "tests/provisioning/test_live_",
    # The pc and kiosk playbooks create accounts on this machine (the guest, the kiosk's).
    "tests/ansible/test_device_roles_over_ssh.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parents[1]
    for item in items:
        where = item.path.relative_to(root).as_posix()
        if where.startswith(MACHINE_WIDE):
            item.add_marker(pytest.mark.machine)


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A real OpenSSH server on 127.0.0.1 that lets root in with ``sshd.client_key``."""
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def migrated_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: Any, name: str = "borne_test"
) -> str:
    """A database of ``backend`` with every migration applied."""
    from controller import migrate

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'borne.sqlite3'}"
    else:
        url = create_database(request.getfixturevalue("postgres_base_url"), name)
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_url(request.param, tmp_path_factory, request)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Any]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Any) -> Iterator[Connection]:
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    """A session whose work is rolled back after the test, commits included."""
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()


class EnglishReader(FlaskClient):
    """A browser that asks for English: tests assert the messages as the code writes them
    (the msgids); French, the pages' default, has tests of its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def make_app(database_url: str, connection: Connection, tmp_path: Path) -> Iterator[Any]:
    """Build apps whose requests share the test's rolled-back transaction; ``settings``
    override the test defaults (a setting under test)."""
    from controller import create_app

    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        app = create_app(
            {
                "database_url": database_url,
                "data_dir": str(tmp_path),
                "async_mode": "threading",
                "testing": True,
                "secret_key": "test-secret-key",
                **settings,
            }
        )
        app.config["WTF_CSRF_ENABLED"] = True
        app.test_client_class = EnglishReader
        app.extensions["borne.db"].sessions = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["borne.db"].dispose()


@pytest.fixture
def app(make_app: Any) -> Flask:
    """An app whose requests share the test's rolled-back transaction."""
    app: Flask = make_app()
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite file of its own (for tests with threads of their own)."""
    from controller import migrate

    url = f"sqlite:///{tmp_path / 'own.sqlite3'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def make_own_app(sqlite_url: str, tmp_path: Path) -> Iterator[Any]:
    """Build apps on a database of their own (``settings`` override the test defaults), for
    requests that reach the background writer."""
    from controller import create_app

    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        app = create_app(
            {
                "database_url": sqlite_url,
                "data_dir": str(tmp_path),
                "async_mode": "threading",
                "testing": True,
                "secret_key": "test-secret-key",
                **settings,
            }
        )
        app.test_client_class = EnglishReader
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["borne.ingest"].stop()
        app.extensions["borne.db"].dispose()


@pytest.fixture
def own_app(make_own_app: Any) -> Flask:
    """An app on a database of its own, for requests that reach the background writer."""
    app: Flask = make_own_app()
    return app
