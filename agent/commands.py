"""Commands from the controller: receive, claim, run once, report.

A command arrives as a :class:`~agent.protocol.CommandMessage`, pushed over Socket.IO (event
``"command"``) or found by polling the HTTP fallback, possibly several times (the controller
pushes again at each reconnection until the command is claimed or expires). :class:`CommandRunner`
queues what arrives and a single worker thread handles each, in order, off the Socket.IO receive
thread and off the heartbeat loop:

1. a message that does not decode, or whose id this device already executed or saw refused, is
   dropped without a claim (logged). Whether it has expired is the controller's to say, at the
   claim, by its own clock: a PC whose clock runs six minutes fast must still take a five-minute
   "Reset now";
2. the command is claimed (``claim``); no answer (link down) drops it for now: the controller
   delivers it again; a refusal (``expired``, ``claimed``, ``cancelled``, ``unknown``) drops it for
   good;
3. once claimed, its id is written to the spool's executed set *before* it runs, so neither a
   duplicate nor a restart (a reboot command!) can run it a second time;
4. a command none of the device's roles handles, or with invalid ``args``, fails without running
   (claimed first, so the person who asked sees why rather than a command that silently expires);
5. the action runs and a :class:`~agent.protocol.CommandResult` (output truncated to
   ``MAX_OUTPUT`` characters, keeping the end) is appended to the spool like every event, and the
   agent is woken so it goes out at once; a later disconnection only delays it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import msgspec

from agent.actions import Actions, Outcome
from agent.protocol import (
    COMMAND_ARGS,
    MAX_OUTPUT,
    ClaimAnswer,
    CollectLogsArgs,
    CommandMessage,
    CommandName,
    CommandResult,
    ExtendSessionArgs,
    MaintenanceArgs,
    MessageArgs,
    OpenLockerArgs,
    UpdateConfigArgs,
    WakeArgs,
    from_builtins,
)
from agent.roles import Role
from agent.spool import Spool
from agent.transport import TransportError

log = logging.getLogger(__name__)

# How many refused or expired ids are remembered in memory (they are not worth the disk: the
# controller refuses them again after a restart).
_MAX_DROPPED_IDS = 1000
_STOP = object()


class Claimer(Protocol):
    def claim(self, command_id: str) -> ClaimAnswer:
        """The controller's answer; raises :class:`TransportError` when none came back."""
        ...


ConfigApplier = Callable[[UpdateConfigArgs], str]


@runtime_checkable
class SessionExtension(Protocol):
    """A device whose residents' sessions can be given more time (the ``pc`` role's
    :class:`~agent.pc.public_pc.PublicPc`, wired as ``actions.session``)."""

    def extend_session(self, args: ExtendSessionArgs) -> Outcome: ...


@runtime_checkable
class LockerOpening(Protocol):
    """A device with lockers staff may open from the controller (the ``kiosk`` role)."""

    def open_locker(self, args: OpenLockerArgs) -> Outcome: ...


class SettingsNotApplied(Exception):
    """An ``update_config`` the device could not apply; it kept its previous settings (the
    message says so, for the controller's page of the rollout)."""


class AnswerLater(Exception):
    """The command's answer comes after a restart (an agent upgrade, :mod:`agent.upgrade`):
    it is recorded as run, and the version that starts next answers it (:meth:`CommandRunner.
    answer`)."""


class CommandRunner:
    """Queues received commands and runs them one at a time on its own thread.

    ``apply_config`` persists and applies an ``update_config`` and returns what it changed;
    ``on_result`` is called after a result is spooled (the agent's ``wake``).
    """

    def __init__(
        self,
        *,
        spool: Spool,
        role: Role,
        actions: Actions,
        claimer: Claimer,
        apply_config: ConfigApplier,
        on_result: Callable[[], None] = lambda: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.spool = spool
        self.role = role
        self.actions = actions
        self.claimer = claimer
        self.apply_config = apply_config
        self.on_result = on_result
        self._now = now
        self._queue: queue.Queue[object] = queue.Queue()
        self._dropped: OrderedDict[str, str] = OrderedDict()  # id -> why (refused, expired)
        self._thread: threading.Thread | None = None
        # The command being run, for what must know it (an upgrade answers it after a restart).
        self.running_command_id = ""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="borne-commands", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish the running command (up to ``timeout_s``) and stop; queued ones are left to
        the controller's next delivery."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("a command is still running at stop; it is abandoned")

    # -- receiving ------------------------------------------------------------------------------

    def receive(self, message: Any) -> None:
        """Queue a command as received (a dict from Socket.IO or the HTTP poll); returns at once.

        Safe to call from the Socket.IO client's thread.
        """
        self._queue.put(message)

    def handle(self, message: Any) -> CommandResult | None:
        """Claim, run and report one received command; None when it was not run.

        The worker calls this; tests may call it directly.
        """
        command = self._decode(message)
        if command is None:
            return None
        if self.spool.was_executed(command.id):
            log.debug("command %s already executed: ignored", command.id)
            return None
        if command.id in self._dropped:
            log.debug("command %s already %s: ignored", command.id, self._dropped[command.id])
            return None
        try:
            answer = self.claimer.claim(command.id)
        except TransportError as exc:
            log.warning(
                "claiming command %s failed (%s); the controller will deliver it again",
                command.id,
                exc,
            )
            return None
        if not answer.ok:
            log.warning(
                "controller refused command %s (%s): %s %s",
                command.id,
                command.name,
                answer.reason or "refused",
                answer.message,
            )
            self._drop(command.id, f"refused ({answer.reason})")
            return None
        # Before running: a crash or reboot from here on must not run it again.
        self.spool.remember_executed(command.id)
        log.info("running command %s (%s)", command.id, command.name)
        started = time.monotonic()
        self.running_command_id = command.id
        try:
            outcome = self._run(command)
        finally:
            self.running_command_id = ""
        duration_ms = int((time.monotonic() - started) * 1000)
        if outcome is None:
            log.info("command %s (%s) is answered after the restart", command.id, command.name)
            return None
        result = self.answer(command.id, outcome, duration_ms)
        log.info(
            "command %s (%s) %s in %d ms",
            command.id,
            command.name,
            "done" if outcome.ok else "failed",
            duration_ms,
        )
        return result

    # -- internals ------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            message = self._queue.get()
            if message is _STOP:
                return
            try:
                self.handle(message)
            except Exception:  # one broken command must not stop the worker
                log.exception("handling a command failed")

    def _decode(self, message: Any) -> CommandMessage | None:
        try:
            command = from_builtins(message, CommandMessage)
        except msgspec.ValidationError as exc:
            # Not claimed: without a readable name and expiry we cannot know it is ours to run.
            # The controller expires it; the log says why.
            log.error("unreadable command %r: %s", _short(message), exc)
            return None
        assert isinstance(command, CommandMessage)
        return command

    def _drop(self, command_id: str, why: str) -> None:
        self._dropped[command_id] = why
        while len(self._dropped) > _MAX_DROPPED_IDS:
            self._dropped.popitem(last=False)

    def answer(self, command_id: str, outcome: Outcome, duration_ms: int = 0) -> CommandResult:
        """Spool the result of command ``command_id`` and wake the agent to send it."""
        output = truncate_output(outcome.output)
        event = self.spool.append(
            lambda seq: CommandResult(
                seq=seq,
                at=self._now(),
                command_id=command_id,
                ok=outcome.ok,
                output=output,
                duration_ms=duration_ms,
            )
        )
        assert isinstance(event, CommandResult)
        self.on_result()
        return event

    def _run(self, command: CommandMessage) -> Outcome | None:
        if command.name not in self.role.commands:
            return Outcome(False, f"{command.name} is not supported on a {self.role.name}")
        try:
            args = msgspec.convert(command.args, COMMAND_ARGS[command.name], strict=True)
        except msgspec.ValidationError as exc:
            return Outcome(False, f"invalid arguments for {command.name}: {exc}")
        try:
            return self._dispatch(command.name, args)
        except Exception as exc:
            log.exception("command %s (%s) raised", command.id, command.name)
            return Outcome(False, f"the agent failed to run it: {type(exc).__name__}: {exc}")

    def _dispatch(self, name: CommandName, args: object) -> Outcome | None:
        actions = self.actions
        match name:
            case CommandName.RESET_SESSION:
                return actions.session.reset()
            case CommandName.LOCK_SCREEN:
                return actions.screen.lock_all()
            case CommandName.UNLOCK_SCREEN:
                return actions.screen.unlock_all()
            case CommandName.SHOW_MESSAGE:
                assert isinstance(args, MessageArgs)
                return actions.screen.show_message(args.text, args.seconds)
            case CommandName.REBOOT:
                return actions.power.reboot()
            case CommandName.SHUTDOWN:
                return actions.power.shutdown()
            case CommandName.WAKE:
                assert isinstance(args, WakeArgs)
                return actions.wake_on_lan.wake(args.macs)
            case CommandName.MAINTENANCE:
                assert isinstance(args, MaintenanceArgs)
                return actions.packages.upgrade(reboot_if_needed=args.reboot_if_needed)
            case CommandName.UPDATE_CONFIG:
                assert isinstance(args, UpdateConfigArgs)
                try:
                    return Outcome(True, self.apply_config(args))
                except SettingsNotApplied as exc:
                    return Outcome(False, str(exc))
                except AnswerLater:
                    return None
            case CommandName.COLLECT_LOGS:
                assert isinstance(args, CollectLogsArgs)
                return actions.logs.collect(args.since_hours)
            case CommandName.EXTEND_SESSION:
                assert isinstance(args, ExtendSessionArgs)
                if not isinstance(actions.session, SessionExtension):
                    return Outcome(False, "this device has no resident's session to extend")
                return actions.session.extend_session(args)
            case CommandName.OPEN_LOCKER:
                assert isinstance(args, OpenLockerArgs)
                # One agent may play several roles (a kiosk that is also the hotspot).
                for role in getattr(self.role, "roles", (self.role,)):
                    if isinstance(role, LockerOpening):
                        return role.open_locker(args)
                return Outcome(False, "this device has no lockers")
        return Outcome(False, f"{name} is not implemented by this agent")


def truncate_output(output: str, limit: int = MAX_OUTPUT) -> str:
    """At most ``limit`` characters, keeping the end (where tools say how they finished).

    The cut falls at the start of a line when it can: half a line can start in the middle of a
    path or a quotation, where a public PC's redaction (:mod:`agent.redaction`, applied as
    the result is spooled) would no longer see the name in it.
    """
    output = output.strip()
    if len(output) <= limit:
        return output
    tail = output[-(limit - 2) :]
    _, newline, whole_lines = tail.partition("\n")
    return "…\n" + whole_lines if newline else "…" + output[-(limit - 1) :]


def _short(message: Any) -> str:
    text = repr(message)
    return text if len(text) <= 200 else text[:200] + "…"
