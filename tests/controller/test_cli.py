"""``borne controller …`` (controller/cli.py): what an administrator types, and its errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from controller.cli import controller
from controller.models import Site, User

PLACES = Path(__file__).resolve().parents[2] / "controller" / "data" / "demo-places.csv"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("BORNE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BORNE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(controller, list(args), input=input, catch_exceptions=False)

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


def count(tmp_path, model) -> int:
    engine = create_engine(f"sqlite:///{tmp_path / 'borne.sqlite3'}")
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model))


def test_upgrade_creates_the_tables_in_wal_mode(run, tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'borne.sqlite3'}")
    with engine.connect() as connection:
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
    assert "current: 0004; head: 0004" in run("db", "current").output


def test_import_places_then_make_a_token(run):
    assert "15 sites created" in run("places", "import", str(PLACES)).output
    result = run("token", "create", "--site", "grenoble-mdh-teisseire", "--kind", "pc")
    assert result.exit_code == 0 and result.stdout.startswith("bet_")


def test_token_for_an_unknown_site_is_a_clear_error(run):
    result = run("token", "create", "--site", "nowhere")
    assert result.exit_code == 1 and "no site 'nowhere'" in result.output


def places_with(tmp_path, line: int, old: str, new: str) -> str:
    """The demo places with one CSV line (1-based, header = 1) edited."""
    lines = PLACES.read_text(encoding="utf-8").splitlines()
    lines[line - 1] = lines[line - 1].replace(old, new)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines), encoding="utf-8")
    return str(bad)


def test_bad_csv_line_is_reported_and_nothing_is_imported(run, tmp_path):
    result = run("places", "import", places_with(tmp_path, 4, "45.1765", "north"))
    assert result.exit_code == 1 and "line 4: latitude 'north' is not a number" in result.output
    assert count(tmp_path, Site) == 0


def test_user_add_reads_the_password_from_stdin(run, tmp_path):
    run("places", "import", str(PLACES))
    result = run(
        "user",
        "add",
        "Amina",
        "--role",
        "mediator",
        "--site",
        "grenoble-mdh-teisseire",
        "--password-stdin",
        input="long enough password\n",
    )
    assert result.exit_code == 0 and "created mediator amina" in result.output
    assert count(tmp_path, User) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "mediator"], "must cover at least one organisation or site"),
        (["--role", "admin", "--site", "nowhere"], "no site 'nowhere'"),
    ],
)
def test_user_add_refuses_bad_input(run, tmp_path, args, message):
    result = run("user", "add", "bob", *args, "--password-stdin", input="long enough password\n")
    assert result.exit_code == 1 and message in result.output
    assert count(tmp_path, User) == 0


def test_short_password_is_refused(run):
    result = run("user", "add", "bob", "--role", "admin", "--password-stdin", input="short\n")
    assert result.exit_code == 1 and "at least 10 characters" in result.output


def test_bad_setting_stops_the_command_naming_it(run, monkeypatch):
    monkeypatch.setenv("BORNE_PORT", "eighty")
    result = run("places", "list")
    assert result.exit_code == 2 and "BORNE_PORT" in result.output


def test_borne_help_lists_the_parts_without_importing_them():
    code = (
        "import sys; from borne.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'controller.app' not in sys.modules and 'flask' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "controller" in result.stdout and "agent" in result.stdout


def test_the_agent_never_imports_the_controller():
    code = (
        "import sys, agent.cli, agent.daemon, agent.transport, agent.enrolment\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('controller', 'flask', 'sqlalchemy', 'flask_socketio')]\n"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_closure_shows_in_the_schedule_preview(run):
    run("places", "import", str(PLACES))
    result = run(
        "closure",
        "add",
        "--site",
        "grenoble-bib-centre-ville",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-05",
        "--reason",
        "inventaire",
    )
    assert result.exit_code == 0 and "closed from 2026-12-01 to 2026-12-05" in result.output
    listed = run("closure", "list").output
    assert "grenoble-bib-centre-ville\t2026-12-01\t2026-12-05\tinventaire" in listed
    preview = run("schedule", "show", "--site", "grenoble-bib-centre-ville", "--days", "14")
    assert preview.exit_code == 0 and "Tu-Sa 10:00-18:00" in preview.output


def test_a_closure_ending_before_it_starts_is_refused(run):
    run("places", "import", str(PLACES))
    result = run(
        "closure",
        "add",
        "--site",
        "grenoble-bib-centre-ville",
        "--from",
        "2026-12-05",
        "--to",
        "2026-12-01",
    )
    assert result.exit_code == 1 and "cannot end" in result.output


def test_command_send_refuses_an_unknown_command(run):
    result = run("command", "send", "format_disk", "--device", "x")
    assert result.exit_code == 1 and "unknown command 'format_disk'" in result.output


def test_places_with_bad_opening_hours_are_refused(run, tmp_path):
    bad = places_with(tmp_path, 3, '"Tu-Sa 10:00-18:00"', '"mardi-samedi 10h-18h"')
    result = run("places", "import", bad)
    assert result.exit_code == 1 and "line 3" in result.output and "OpenStreetMap" in result.output


def test_commands_sent_from_the_cli_are_listed_queued(run, tmp_path):
    from controller.db import Database
    from tests.factories import make_device

    run("places", "import", str(PLACES))
    database = Database(f"sqlite:///{tmp_path / 'borne.sqlite3'}")
    with database.session() as session:
        device_id = make_device(session, site=None).id
    database.dispose()

    sent = run("command", "send", "show_message", "--device", device_id, "--arg", "text=Closing")
    assert sent.exit_code == 0 and "\tqueued" in sent.output
    listed = run("command", "list", "--device", device_id)
    assert "\tshow_message\tqueued\tcli\t" in listed.output
