"""A command's outcome in one line for people (controller/commands/outcomes.py), from the
device's raw output, in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import force_locale

from agent.protocol import CommandName
from controller.commands.models import Command, CommandState
from controller.commands.outcomes import outcome_line, outcome_of


def finished(name: CommandName, output: str, state: CommandState = CommandState.DONE) -> Command:
    return Command(name=name, state=state, output=output)


def test_a_reset_says_how_fast_the_pc_was_ready(app):
    outcome = outcome_of(finished(CommandName.RESET_SESSION, "ready in 80 ms; the wipe follows"))
    assert outcome == {"kind": "reset", "ready_ms": 80}
    with app.test_request_context(), force_locale("fr"):
        assert outcome_line(outcome) == "Réinitialisé : prêt en 80 ms"


def test_more_time_says_the_new_end_in_the_citys_time(app):
    output = "session ends at 2026-11-22T15:15:00+00:00 (+15 min)"
    outcome = outcome_of(finished(CommandName.EXTEND_SESSION, output))
    assert outcome == {"kind": "extended", "ends_at": "2026-11-22T15:15:00+00:00"}
    with app.test_request_context(), force_locale("fr"):
        assert outcome_line(outcome) == "Plus de temps : la session se termine maintenant à 16:15"


def test_simple_outcomes_failures_and_unfinished_commands(app):
    failed = finished(CommandName.LOCK_SCREEN, "loginctl: access denied\nmore", CommandState.FAILED)
    with app.test_request_context(), force_locale("en"):
        assert outcome_line(outcome_of(finished(CommandName.LOCK_SCREEN, "x"))) == "Screen locked"
        assert outcome_line(outcome_of(failed)) == "Failed: loginctl: access denied"
        expired = finished(CommandName.REBOOT, "", CommandState.EXPIRED)
        assert outcome_line(outcome_of(expired)).startswith("Not run")
    assert outcome_of(finished(CommandName.REBOOT, "", CommandState.SENT)) is None
    assert datetime.now(UTC)  # outcome_of needs no request: the live events use it
