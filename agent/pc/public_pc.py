"""The ``pc`` role's job: watch residents' sessions, reset the PC at each end, report both.

Wires :class:`~agent.pc.sessions.SessionTracker` (when a session ends) to
:class:`~agent.pc.reset.GuestReset` (making the PC ready and wiping) and to the agent's spool
(the anonymous session record and the wipe report, which reach the controller like every event).
It is also the agent's :class:`~agent.actions.SessionReset`, so a mediator's "Reset now" ends the
session the same way, and it takes the PC out of service and back at a technician's switch
(:meth:`PublicPc.set_out_of_service`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from agent import protocol
from agent.actions import Outcome
from agent.pc.greeter import MemoryNotice, ServiceNotice
from agent.pc.login import GuestLogin, LockKind
from agent.pc.report import WipeReport
from agent.pc.sessions import (
    DEFAULT_LANGUAGE,
    DEFAULT_TIME_ZONE,
    EndedSession,
    NoSessionToExtend,
    Presence,
    SessionTracker,
)
from agent.periodic import Periodic
from agent.protocol import AgentEvent, SessionEnd
from agent.redaction import RedactingSpool, redacted

if TYPE_CHECKING:
    from agent.pc.guest import GuestAccount
    from agent.pc.reset import GuestReset
    from agent.settings import AgentSettings

log = logging.getLogger(__name__)

TICK_S = 1.0
# A logout seen this soon after a reset made by another process (``borne agent reset``) is that
# reset's doing, not a resident leaving: it is not reset a second time.
RESET_MARK = "last-reset"
RECENT_RESET_S = 15.0
MAX_LEFTOVERS = 100
OUT_OF_SERVICE = "out of service: a technician's switch on the controller"


class EventSink(Protocol):
    def append(self, build: Callable[[int], AgentEvent]) -> AgentEvent: ...


class Resetter(Protocol):
    def reset(self) -> Outcome: ...


class PublicPc:
    """Implements :class:`~agent.actions.SessionReset` for the real PC."""

    def __init__(
        self,
        *,
        presence: Presence,
        resetter: Resetter,
        events: EventSink,
        warn: Callable[[str], None],
        state_dir: Path,
        login: GuestLogin,
        idle_timeout_s: int,
        max_session_s: int = 0,
        language: str = DEFAULT_LANGUAGE,
        time_zone: str = DEFAULT_TIME_ZONE,
        notice: ServiceNotice | None = None,
        on_event: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``notice``: where residents read that the PC is out of service (the login screen,
        :class:`~agent.pc.greeter.GreeterNotice`); in memory unless given."""
        self.resetter = resetter
        self.events = events
        self.state_dir = Path(state_dir)
        self.login = login
        self.notice: ServiceNotice = notice or MemoryNotice()
        self.on_event = on_event
        self._now = now
        self._lock = threading.RLock()
        self._ending: SessionEnd = SessionEnd.COMMAND
        self._periodic = Periodic("borne-sessions", TICK_S, self.tick)
        self.tracker = SessionTracker(
            presence,
            idle_timeout_s=idle_timeout_s,
            max_session_s=max_session_s,
            warn=warn,
            on_end=self._record_session,
            clock=clock,
            now=now,
            language=language,
            time_zone=time_zone,
        )

    # -- the agent's SessionReset: a mediator's "Reset now" ----------------------------------------

    def reset(self) -> Outcome:
        with self._lock:
            self.tracker.end(SessionEnd.COMMAND)
            return self._reset(SessionEnd.COMMAND)

    def extend_session(self, args: protocol.ExtendSessionArgs) -> Outcome:
        """A mediator's "+15 min" (or "until closing"): the running session ends later, and the
        resident is told when, in the site's language (or the command's)."""
        with self._lock:
            tracker = self.tracker
            language, time_zone = tracker.language, tracker.time_zone
            tracker.language = args.language or language
            tracker.time_zone = args.time_zone or time_zone
            try:
                ends = tracker.extend(minutes=args.minutes, ends_in_s=args.ends_in_s)
            except NoSessionToExtend as exc:
                return Outcome(False, str(exc))
            finally:
                tracker.language, tracker.time_zone = language, time_zone
        how = f"until {args.ends_in_s} s from now" if args.ends_in_s else f"+{args.minutes} min"
        # The first line is read by the controller's pages: keep its shape.
        return Outcome(True, f"session ends at {ends.isoformat(timespec='seconds')} ({how})")

    def login_locked_reason(self) -> str | None:
        """Why residents cannot log in (a wipe left something, out of service), or None."""
        return self.login.locked_reason()

    # -- a technician's switch: out of service and back --------------------------------------------

    @property
    def out_of_service(self) -> bool:
        """The guest login is locked by the technician's switch (the state kept on disk, with
        the account's expiry, by :mod:`agent.pc.login`)."""
        return self.login.locked_reason(LockKind.OUT_OF_SERVICE) is not None

    def set_out_of_service(self, out: bool) -> list[str]:
        """Take the PC out of service (``out``) or return it to service; what was done, one
        line each, for the command's output. Doing it again changes nothing.

        Out of service: the notice goes up first (the login screen that follows reads it), then
        the guest login locks with its own reason, which no reset lifts; a resident's running
        session is ended as a mediator's reset ends it, so nothing of theirs is left. Back in
        service: only that reason is lifted (a wipe's lock holds), and the notice comes down.
        Either way the login screen is refreshed when no session is running.
        """
        with self._lock:
            return self._take_out_of_service() if out else self._return_to_service()

    def _take_out_of_service(self) -> list[str]:
        already = self.out_of_service
        done = [self.notice.show(self.tracker.language)]
        if not already:
            self.login.lock(OUT_OF_SERVICE, kind=LockKind.OUT_OF_SERVICE)
            done.append("the guest login is locked")
        if self.tracker.presence.session_key() is not None:
            outcome = self.reset()
            first_line = outcome.output.partition("\n")[0]
            how = "reset" if outcome.ok else "reset, with problems"
            done.append(f"the resident's session was {how}: {first_line}")
        elif not already:
            done.append(self.notice.refresh())
        return [line for line in done if line]

    def _return_to_service(self) -> list[str]:
        if not self.out_of_service and not self.notice.shown():
            return ["already in service"]
        done = [self.notice.remove()]
        self.login.unlock(kind=LockKind.OUT_OF_SERVICE)
        still = self.login.locked_reason()
        done.append(f"the guest login stays locked: {still}" if still else "guest login open")
        done.append(self.notice.refresh())  # the guest is logged in again, or sees the greeter
        return [line for line in done if line]

    # -- watching ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Look once: a session that just ended is recorded and the PC reset."""
        with self._lock:
            ended = self.tracker.tick()
            if ended is None:
                return
            if ended.ended_by is SessionEnd.LOGOUT and self._reset_recently_elsewhere():
                log.info("logout caused by a reset made at the PC: not resetting again")
                return
            self._reset(ended.ended_by)

    def set_limits(
        self,
        *,
        idle_timeout_s: int | None,
        max_session_s: int | None,
        language: str | None = None,
        time_zone: str | None = None,
    ) -> None:
        """The site's limits or language changed (``update_config``); they apply from the next
        tick."""
        with self._lock:
            if idle_timeout_s is not None:
                self.tracker.idle_timeout_s = idle_timeout_s
            if max_session_s is not None:
                self.tracker.max_session_s = max_session_s
            if language is not None:
                self.tracker.language = language
            if time_zone is not None:
                self.tracker.time_zone = time_zone

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    # -- what a reset leaves behind --------------------------------------------------------------

    def _reset(self, how: SessionEnd) -> Outcome:
        self._ending = how
        # No mark_reset here: the mark is for resets made by other processes; marking our own
        # would spare the next short session its reset.
        outcome = self.resetter.reset()
        log.info("reset after %s: %s", how.value, outcome.output.partition("\n")[0])
        return outcome

    def report_wipe(self, report: WipeReport) -> None:
        """``GuestReset``'s ``on_report``: spool the proof for the controller."""
        self.events.append(lambda seq: wipe_event(seq, report, self._ending, self._now()))
        self.on_event()

    def _record_session(self, ended: EndedSession) -> None:
        self.events.append(
            lambda seq: protocol.SessionRecord(
                seq=seq,
                at=self._now(),
                started_at=ended.started_at,
                ended_at=ended.ended_at,
                ended_by=ended.ended_by,
            )
        )
        self.on_event()

    def _reset_recently_elsewhere(self) -> bool:
        try:
            age = time.time() - (self.state_dir / RESET_MARK).stat().st_mtime
        except FileNotFoundError:
            return False
        return age < RECENT_RESET_S


def mark_reset(state_dir: Path) -> None:
    """Note the time of a reset, for a daemon watching sessions in another process."""
    mark = Path(state_dir) / RESET_MARK
    mark.touch()


def wipe_event(seq: int, report: WipeReport, how: SessionEnd, at: datetime) -> protocol.WipeReport:
    """The agent's report as the wire schema carries it (bounded lists, escaped paths).

    A leftover's ``path`` is a path from end to end, so it is :func:`redacted` as one here (the
    spool's redaction of free text cannot know where a name holding ``: `` ends); the actions and
    reasons are free text, redacted with every other string by :class:`RedactingSpool`.
    """
    return protocol.WipeReport(
        seq=seq,
        at=at,
        started_at=datetime.fromtimestamp(report.started_at, UTC),
        ready_ms=report.ready_ms,
        wipe_ms=report.wipe_ms,
        removed_files=report.removed_files,
        removed_bytes=report.removed_bytes,
        actions=[action[:200] for action in report.actions[:32]],
        leftovers=[
            protocol.Leftover(
                area=item.area[:64], path=redacted(item.path)[:200], reason=item.reason[:200]
            )
            for item in report.leftovers[:MAX_LEFTOVERS]
        ],
        leftovers_total=len(report.leftovers),
        login_locked=bool(report.leftovers),
        ended_by=how,
    )


class SimulatedGuestReset:
    """The demo's and tests' public PC: answers like a real reset and reports a clean wipe."""

    def __init__(self, on_report: Callable[[WipeReport], None]) -> None:
        self.on_report = on_report
        self.resets = 0

    def reset(self) -> Outcome:
        self.resets += 1
        report = WipeReport(ready_ms=140, wipe_ms=1900, removed_files=3120, removed_bytes=87 << 20)
        report.did("simulated: ended 23 processes, swapped in a fresh home")
        self.on_report(report)
        return Outcome(True, "simulated: ready in 140 ms; the wipe report follows")


def local_reset(settings: AgentSettings, how: SessionEnd) -> tuple[GuestAccount, GuestReset]:
    """A reset run outside the daemon (``borne agent reset``, the display manager's check): its
    report is queued in the agent's spool when the PC is enrolled, so the controller gets it.

    Raises :class:`~agent.pc.guest.GuestRefused` when the configured account is not a guest's.
    """
    from agent.pc.guest import resolve_guest
    from agent.pc.login import AccountExpiryLogin
    from agent.pc.reset import GuestReset
    from agent.spool import SPOOL_FILE

    guest = resolve_guest(settings.guest_user)
    state = Path(settings.state_dir)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    spool_path = state / SPOOL_FILE

    def keep(report: WipeReport) -> None:
        if not spool_path.exists():
            return  # not enrolled: the printed output is the only report
        spool = RedactingSpool(spool_path, max_events=settings.spool_max_events)
        try:
            spool.append(lambda seq: wipe_event(seq, report, how, datetime.now(UTC)))
        finally:
            spool.close()

    resetter = GuestReset(
        guest_name=guest.name,
        skeleton=settings.guest_skeleton,
        login=AccountExpiryLogin(guest, state),
        state_dir=state,
        on_report=keep,
    )
    return guest, resetter
