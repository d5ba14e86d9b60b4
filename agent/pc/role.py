"""The ``pc`` role: a public PC's residents' sessions, reset and wiped at each end.

:func:`build_public_pc` wires :class:`~agent.pc.public_pc.PublicPc` for real (or simulated, for
the demo); :class:`PcRole` runs it beside the agent, answers the mediators' "Reset now", reports
the session, the guest login, whether the PC is in service and its printers in heartbeats, and
applies the site's session limits and the technician's out-of-service switch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from agent.actions import Actions
from agent.pc.public_pc import EventSink, PublicPc
from agent.protocol import (
    SERVICE_STATE_KEY,
    CommandName,
    DeviceKind,
    ServiceState,
    UpdateConfigArgs,
)
from agent.roles import EVERY_DEVICE, SCREEN, RoleDefaults, Service, Wiring
from agent.settings import ActionsMode, AgentSettings

log = logging.getLogger(__name__)

# The site's session limits, set on the site's page, and the language and time zone of what
# the PC tells residents.
SESSION_LIMITS = ("idle_timeout_s", "max_session_s", "site_language", "site_timezone")


class PcRole(RoleDefaults):
    """A public PC: residents' sessions and the guest account's wipe."""

    name = DeviceKind.PC
    commands: ClassVar[frozenset[CommandName]] = (
        EVERY_DEVICE
        | SCREEN
        | {
            CommandName.RESET_SESSION,
            CommandName.EXTEND_SESSION,
        }
    )
    redacts_residents = True  # residents' files, sticks and networks: none of their names leave

    def __init__(self) -> None:
        self.public_pc: PublicPc | None = None  # once wired

    def state(self) -> dict[str, str]:
        if self.public_pc is None:
            return {}
        tracker = self.public_pc.tracker
        state = {"session": "active" if tracker.active else "none"}
        reason = self.public_pc.login_locked_reason()
        state["guest_login"] = "locked" if reason else "open"
        if reason:
            state["locked_because"] = reason[:200]
        # For the mediators' page: since when, until when (UTC). "language" also tells the
        # controller that this agent reads the site_language setting.
        if tracker.started_at is not None:
            state["session_since"] = tracker.started_at.isoformat(timespec="seconds")
        ends = tracker.ends_at()
        if ends is not None:
            state["session_ends_at"] = ends.isoformat(timespec="seconds")
        state["language"] = tracker.language
        # Always there: it also tells the controller that this agent reads out_of_service.
        out = self.public_pc.out_of_service
        state[SERVICE_STATE_KEY] = (
            ServiceState.OUT_OF_SERVICE if out else ServiceState.IN_SERVICE
        ).value
        return state

    def wire(self, wiring: Wiring) -> list[Service]:
        simulated = wiring.settings.actions == ActionsMode.SIMULATED
        public_pc = build_public_pc(
            wiring.settings,
            wiring.events,
            wiring.actions,
            wake=wiring.wake,
            simulated=simulated,
        )
        wiring.actions.session = public_pc  # a mediator's "Reset now" ends the session
        self.public_pc = public_pc
        if wiring.remote.out_of_service is not None:
            _keep_service_state(public_pc, wiring.remote.out_of_service)
        if wiring.metrics is not None and not simulated:
            from agent.pc.printers import CupsPrinters

            wiring.metrics.watch_printers(CupsPrinters())
        return [public_pc]

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        changed = [
            f"{name} = {getattr(update, name)}"
            for name in SESSION_LIMITS
            if getattr(update, name) is not None
        ]
        public_pc = self.public_pc
        if public_pc is None:
            return changed
        if changed:
            public_pc.set_limits(
                idle_timeout_s=update.idle_timeout_s,
                max_session_s=update.max_session_s,
                language=update.site_language,
                time_zone=update.site_timezone,
            )
        if update.out_of_service is not None:
            done = public_pc.set_out_of_service(update.out_of_service)
            changed.append(f"out_of_service = {update.out_of_service} ({'; '.join(done)})")
        elif update.site_language is not None and public_pc.out_of_service:
            changed.append(public_pc.notice.show(update.site_language))  # the notice's language
        return changed


def build_public_pc(
    settings: AgentSettings,
    spool: EventSink,
    actions: Actions,
    *,
    wake: Callable[[], None],
    simulated: bool = False,
) -> PublicPc:
    """The real public PC: the guest's sessions watched, and reset and wiped at each end.

    The guest account is looked up at each reset (and refused if it is not a guest's), so a PC
    set up later, or a wrong ``guest_user``, is reported by the reset rather than stopping the
    agent.
    """
    from agent.pc.display_manager import check_autologin
    from agent.pc.greeter import GreeterNotice, MemoryNotice, ServiceNotice
    from agent.pc.guest import GuestRefused, resolve_guest
    from agent.pc.login import GuestLogin, GuestLoginByName, MemoryLogin
    from agent.pc.public_pc import SimulatedGuestReset
    from agent.pc.reset import GuestReset
    from agent.pc.sessions import GuestPresenceByName, NoPresence, Presence

    state_dir = Path(settings.state_dir)
    resetter: GuestReset | SimulatedGuestReset
    if simulated:  # the demo: no account is touched, the reports look like real ones
        presence: Presence = NoPresence()
        login: GuestLogin = MemoryLogin()
        notice: ServiceNotice = MemoryNotice()
        resetter = SimulatedGuestReset(on_report=_not_yet)
        warn: Callable[[str], None] = lambda text: None  # noqa: E731
    else:
        try:
            guest = resolve_guest(settings.guest_user)
        except GuestRefused as exc:
            log.error("public PC without its guest account (yet): %s", exc)
        else:
            for problem in check_autologin(guest.name).problems:
                log.warning("the guest will not log in on its own after a reset: %s", problem)
        # Looked up at each use: a guest account created after the agent started is watched,
        # and locked for real.
        presence = GuestPresenceByName(settings.guest_user)
        login = GuestLoginByName(settings.guest_user, state_dir)
        notice = GreeterNotice()
        resetter = GuestReset(
            guest_name=settings.guest_user,
            skeleton=settings.guest_skeleton,
            login=login,
            state_dir=state_dir,
            on_report=_not_yet,
        )

        def warn(text: str) -> None:
            actions.screen.show_message(text, 60)

    public_pc = PublicPc(
        presence=presence,
        resetter=resetter,
        events=spool,
        warn=warn,
        state_dir=state_dir,
        idle_timeout_s=settings.idle_timeout_s,
        max_session_s=settings.max_session_s,
        language=settings.site_language,
        time_zone=settings.site_timezone,
        on_event=wake,
        login=login,
        notice=notice,
    )
    resetter.on_report = public_pc.report_wipe  # the reports go where the sessions go
    return public_pc


def _keep_service_state(public_pc: PublicPc, out: bool) -> None:
    """At start: the technician's switch as the controller last set it (``remote-settings.json``)
    holds, though the agent stopped between saving it and applying it. Applied already, it
    changes nothing (no reset, no restart of the display manager)."""
    try:
        for line in public_pc.set_out_of_service(out):
            log.info("out_of_service = %s: %s", out, line)
    except Exception:  # the agent runs on; its heartbeats say whether the PC is in service
        log.exception("applying out_of_service = %s at start failed", out)


def _not_yet(report: object) -> None:
    raise RuntimeError("a wipe report before the public PC was wired")
