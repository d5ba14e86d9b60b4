"""Fixtures of the configuration tests: an agent's answer to the settings it was sent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from agent.protocol import CommandResult
from controller.commands import service as commands
from controller.commands.models import Command
from controller.db import utcnow


@pytest.fixture
def answer(db: Session) -> Callable[..., Command]:
    """The device of ``command`` claims and runs it, and says ``ok`` (or why not)."""

    def run(command: Command, ok: bool = True, output: str = "applied") -> Command:
        assert commands.claim(db, command.runner_id, command.id).ok
        result = CommandResult(
            seq=1, at=utcnow(), command_id=command.id, ok=ok, output=output, duration_ms=3
        )
        done = commands.record_result(db, command.runner_id, result)
        assert done is not None
        return done

    return run
