"""The command runner's rules, fast: a real spool in a temp dir, a scripted claimer.

(The same rules over real Socket.IO and HTTP are in test_commands.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_testkit import make_command

from agent.actions import Call, simulated_actions
from agent.commands import CommandRunner, truncate_output
from agent.protocol import MAX_OUTPUT, ClaimAnswer, CommandName, CommandResult, DeviceKind
from agent.roles import role_for
from agent.spool import Spool
from agent.transport import TransportError


class ScriptedClaimer:
    """Answers claims from a list (an exception is raised), then grants."""

    def __init__(self, *answers: ClaimAnswer | Exception):
        self.answers = list(answers)
        self.claimed: list[str] = []

    def claim(self, command_id: str) -> ClaimAnswer:
        self.claimed.append(command_id)
        answer = self.answers.pop(0) if self.answers else ClaimAnswer(ok=True)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "spool.sqlite3")
    yield spool
    spool.close()


def make_runner(
    spool: Spool, claimer: ScriptedClaimer, kind: DeviceKind = DeviceKind.PC
) -> CommandRunner:
    return CommandRunner(
        spool=spool,
        role=role_for(kind),
        actions=simulated_actions(),
        claimer=claimer,
        apply_config=lambda update: "applied",
    )


def recorded(runner: CommandRunner) -> list[Call]:
    assert runner.actions.simulated is not None
    return runner.actions.simulated.calls


def test_claim_without_an_answer_is_not_remembered_so_the_redelivery_runs(spool: Spool) -> None:
    claimer = ScriptedClaimer(TransportError("connection lost"))
    runner = make_runner(spool, claimer)
    command = make_command("lock_screen")
    assert runner.handle(command) is None
    assert not spool.was_executed(command["id"])
    result = runner.handle(command)  # delivered again at the next connection
    assert isinstance(result, CommandResult) and result.ok
    assert claimer.claimed == [command["id"], command["id"]]
    assert recorded(runner) == [Call("lock_screen")]


def test_executed_id_is_stored_before_the_action_runs(spool: Spool) -> None:
    seen_as_executed = []

    class Probe:
        def reboot(self):  # the reboot could kill the agent: the id must be on disk by now
            from agent.actions import Outcome

            seen_as_executed.append(spool.was_executed(command["id"]))
            return Outcome(True)

    runner = make_runner(spool, ScriptedClaimer())
    runner.actions.power = Probe()  # type: ignore[assignment]
    command = make_command("reboot")
    runner.handle(command)
    assert seen_as_executed == [True]


def test_unreadable_command_is_neither_claimed_nor_run(spool: Spool) -> None:
    claimer = ScriptedClaimer()
    runner = make_runner(spool, claimer)
    assert runner.handle(make_command("format_disk")) is None  # not in this protocol version
    assert runner.handle({"id": 42}) is None
    assert claimer.claimed == [] and recorded(runner) == [] and len(spool) == 0


def test_refused_id_is_not_claimed_again(spool: Spool) -> None:
    claimer = ScriptedClaimer(ClaimAnswer(ok=False, reason="cancelled", message="by staff"))
    runner = make_runner(spool, claimer)
    command = make_command("shutdown")
    runner.handle(command)
    runner.handle(command)
    assert claimer.claimed == [command["id"]]
    assert recorded(runner) == [] and len(spool) == 0


def test_command_without_time_zone_is_refused_as_malformed(spool: Spool) -> None:
    # The protocol's instants carry their time zone; a bare time is not guessed at.
    claimer = ScriptedClaimer()
    runner = make_runner(spool, claimer)
    runner.handle(make_command("lock_screen", expires_at="2030-01-01T00:00:00"))
    assert claimer.claimed == []


@pytest.mark.parametrize(
    ("kind", "refused"),
    [
        (DeviceKind.PC, {CommandName.OPEN_LOCKER}),
        (DeviceKind.KIOSK, {CommandName.RESET_SESSION, CommandName.EXTEND_SESSION}),
        (
            DeviceKind.HOTSPOT,
            {
                CommandName.RESET_SESSION,
                CommandName.EXTEND_SESSION,
                CommandName.OPEN_LOCKER,
                CommandName.LOCK_SCREEN,
                CommandName.UNLOCK_SCREEN,
                CommandName.SHOW_MESSAGE,
            },
        ),
    ],
)
def test_each_device_kind_handles_its_commands(kind: DeviceKind, refused: set[str]) -> None:
    assert set(CommandName) - role_for(kind).commands == refused


def test_long_output_is_truncated_keeping_the_end() -> None:
    output = "".join(f"line {i}\n" for i in range(2000)) + "E: unmet dependencies"
    short = truncate_output(output)
    assert MAX_OUTPUT - len("line 1999\n") <= len(short) <= MAX_OUTPUT
    assert short.startswith("…\n") and short.endswith("E: unmet dependencies")
    assert short.splitlines()[1] in output.splitlines()  # a whole line, never half of one
    assert truncate_output("ok\n") == "ok"


def test_action_that_raises_gives_a_failed_result_and_the_worker_goes_on(spool: Spool) -> None:
    class Broken:
        def lock_all(self):
            raise PermissionError("loginctl: access denied")

    runner = make_runner(spool, ScriptedClaimer())
    runner.actions.screen = Broken()  # type: ignore[assignment]
    result = runner.handle(make_command("lock_screen"))
    assert result is not None and not result.ok
    assert "PermissionError: loginctl: access denied" in result.output
    assert runner.handle(make_command("reboot")) is not None
