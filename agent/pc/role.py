"""The ``pc`` role: a public PC's residents' sessions, reset and wiped at each end.

:func:`build_public_pc` wires :class:`~agent.pc.public_pc.PublicPc` for real (or simulated, for
the demo); :class:`PcRole` runs it beside the agent, answers the mediators' "Reset now", reports
the session and the guest login in heartbeats and applies the site's session limits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from agent.actions import Actions
from agent.pc.public_pc import EventSink, PublicPc
from agent.protocol import CommandName, DeviceKind, UpdateConfigArgs
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
        return state

    def wire(self, wiring: Wiring) -> list[Service]:
        public_pc = build_public_pc(
            wiring.settings,
            wiring.events,
            wiring.actions,
            wake=wiring.wake,
            simulated=wiring.settings.actions == ActionsMode.SIMULATED,
        )
        wiring.actions.session = public_pc  # a mediator's "Reset now" ends the session
        self.public_pc = public_pc
        return [public_pc]

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        if all(getattr(update, name) is None for name in SESSION_LIMITS):
            return []
        if self.public_pc is not None:
            self.public_pc.set_limits(
                idle_timeout_s=update.idle_timeout_s,
                max_session_s=update.max_session_s,
                language=update.site_language,
                time_zone=update.site_timezone,
            )
        return [
            f"{name} = {getattr(update, name)}"
            for name in SESSION_LIMITS
            if getattr(update, name) is not None
        ]


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
    )
    resetter.on_report = public_pc.report_wipe  # the reports go where the sessions go
    return public_pc


def _not_yet(report: object) -> None:
    raise RuntimeError("a wipe report before the public PC was wired")
