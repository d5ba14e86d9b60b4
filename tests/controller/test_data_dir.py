"""Data at rest (controller/config.py private_data_dir, controller/db.py): the data directory is
0700 and the SQLite database 0600, since they hold password hashes and hotspots' code secrets."""

from __future__ import annotations

import stat

from controller import create_app


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_controller_keeps_its_data_to_itself(tmp_path):
    data_dir = tmp_path / "borne"
    app = create_app({"data_dir": str(data_dir), "async_mode": "threading", "testing": True})
    try:
        assert mode(data_dir) == 0o700
        assert mode(data_dir / "borne.sqlite3") == 0o600
        assert mode(data_dir / "secret_key") == 0o600
    finally:
        app.extensions["borne.db"].dispose()


def test_an_existing_directory_and_database_open_to_others_are_closed(tmp_path):
    data_dir = tmp_path / "borne"
    data_dir.mkdir(mode=0o755)
    database = data_dir / "borne.sqlite3"
    database.touch(mode=0o644)
    data_dir.chmod(0o755)
    database.chmod(0o644)

    app = create_app({"data_dir": str(data_dir), "async_mode": "threading", "testing": True})
    try:
        assert (mode(data_dir), mode(database)) == (0o700, 0o600)
    finally:
        app.extensions["borne.db"].dispose()


def test_the_command_line_makes_them_private_too(run, tmp_path):
    # The run fixture sets BORNE_DATA_DIR to tmp_path and runs "db upgrade".
    assert mode(tmp_path) == 0o700
    assert mode(tmp_path / "borne.sqlite3") == 0o600
