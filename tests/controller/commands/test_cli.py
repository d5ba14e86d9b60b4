"""``borne controller command …`` (controller/commands/cli.py): send and list commands from a
shell."""

from __future__ import annotations

from controller.db import Database
from tests.controller.testkit import DEMO_PLACES
from tests.factories import make_device


def test_command_send_refuses_an_unknown_command(run):
    result = run("command", "send", "format_disk", "--device", "x")
    assert result.exit_code == 1 and "unknown command 'format_disk'" in result.output


def test_commands_sent_from_the_cli_are_listed_queued(run, tmp_path):
    run("places", "import", str(DEMO_PLACES))
    database = Database(f"sqlite:///{tmp_path / 'borne.sqlite3'}")
    with database.session() as session:
        device_id = make_device(session, site=None).id
    database.dispose()

    sent = run("command", "send", "show_message", "--device", device_id, "--arg", "text=Closing")
    assert sent.exit_code == 0 and "\tqueued" in sent.output
    listed = run("command", "list", "--device", device_id)
    assert "\tshow_message\tqueued\tcli\t" in listed.output
