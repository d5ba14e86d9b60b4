"""``borne controller user …`` (controller/accounts/cli.py): staff accounts from a shell."""

from __future__ import annotations

import pytest

from controller.accounts.models import User
from tests.controller.testkit import DEMO_PLACES, count


def test_user_add_reads_the_password_from_stdin(run, tmp_path):
    run("places", "import", str(DEMO_PLACES))
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


def test_user_disable_and_enable(run, tmp_path):
    run("user", "add", "mediatrice", "--role", "admin", "--password-stdin", input="x" * 12 + "\n")

    disabled = run("user", "disable", "mediatrice")
    enabled = run("user", "enable", "mediatrice")
    unknown = run("user", "disable", "nobody")

    assert disabled.exit_code == 0 and "sessions have ended" in disabled.output
    assert enabled.exit_code == 0 and "enabled mediatrice" in enabled.output
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output


def test_user_password_resets_it(run, tmp_path):
    run(
        "user", "add", "agent-accueil", "--role", "admin", "--password-stdin", input="x" * 12 + "\n"
    )

    reset = run("user", "password", "agent-accueil", "--password-stdin", input="y" * 12 + "\n")
    short = run("user", "password", "agent-accueil", "--password-stdin", input="short\n")

    assert reset.exit_code == 0 and "sessions have ended" in reset.output
    assert short.exit_code == 1 and "at least 10 characters" in short.output


def test_user_access_changes_role_and_places(run, tmp_path):
    run("places", "import", str(DEMO_PLACES))
    run("user", "add", "sam", "--role", "admin", "--password-stdin", input="x" * 12 + "\n")

    changed = run("user", "access", "sam", "--role", "mediator", "--site", "grenoble-mdh-teisseire")
    again = run("user", "access", "sam", "--role", "mediator", "--site", "grenoble-mdh-teisseire")
    refused = run("user", "access", "sam", "--role", "manager")

    assert changed.exit_code == 0 and "sam is now mediator" in changed.output
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert refused.exit_code == 1 and "must cover at least one" in refused.output
