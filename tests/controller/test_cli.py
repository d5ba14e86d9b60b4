"""``borne controller …`` (controller/cli.py): the database commands, and bad settings."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from controller import migrate


def test_upgrade_creates_the_tables_in_wal_mode(run, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'borne.sqlite3'}")
    with engine.connect() as connection:
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
    head = migrate.head_revision()
    assert f"current: {head}; head: {head}" in run("db", "current").output


def test_bad_setting_stops_the_command_naming_it(run, monkeypatch):
    monkeypatch.setenv("BORNE_PORT", "eighty")
    result = run("places", "list")
    assert result.exit_code == 2 and "BORNE_PORT" in result.output
