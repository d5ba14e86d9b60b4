"""Fixtures of the controller's tests (the app, the client and the databases are in tests/)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from controller.cli import controller


@pytest.fixture
def run(tmp_path, monkeypatch):
    """``borne controller …`` on a fresh SQLite file in ``tmp_path``: call it with the words."""
    monkeypatch.setenv("BORNE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BORNE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(controller, list(args), input=input, catch_exceptions=False)

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


@pytest.fixture
def event_handlers(app):
    """What each domain does with the agent events of its kind, as the app wires it: for tests
    that write events with ``write_events`` in the test's transaction."""
    return app.extensions["borne.ingest"].handlers
