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


def test_without_a_data_directory_the_command_says_which_setting_to_set(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from controller.cli import controller

    monkeypatch.setenv("BORNE_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("BORNE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    result = CliRunner().invoke(controller, ["places", "list"])

    assert result.exit_code == 2
    assert "BORNE_DATA_DIR" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "nowhere").exists()


def test_a_database_without_tables_says_to_upgrade_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from controller.cli import controller

    monkeypatch.setenv("BORNE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BORNE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    result = CliRunner().invoke(controller, ["places", "list"])

    assert result.exit_code == 1
    assert "no tables yet: run 'borne controller db upgrade'" in result.output


def test_a_port_in_use_is_said_plainly(run):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run("run", "--host", "127.0.0.1", "--port", str(port))

    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
