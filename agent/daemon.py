"""``borne agent run``: the loop that spools heartbeats and inventory and sends them.

:func:`build_agent` wires the small objects (spool, collectors, role, channels, link, command
runner and its system actions) and :func:`run` runs them until SIGTERM or SIGINT. Commands run on
the runner's own thread (:mod:`agent.commands`), never on this loop.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from agent.actions import Actions, RecentLog, actions_for
from agent.commands import CommandRunner
from agent.credentials import Credentials, ensure_state_dir
from agent.hotspot import (
    PortalWatch,
    hand_over_portal_settings,
    portal_changes,
    without_stale_portal_settings,
)
from agent.inventory import InventoryCollector
from agent.metrics import MetricsCollector
from agent.pc.public_pc import PublicPc
from agent.protocol import COMMAND_EVENT, Heartbeat, InventoryReport, UpdateConfigArgs
from agent.roles import HotspotRole, PcRole, Role, role_for
from agent.settings import (
    ActionsMode,
    AgentSettings,
    load_remote_settings,
    save_remote_settings,
    with_remote_settings,
)
from agent.spool import SPOOL_FILE, Spool
from agent.transport import ControllerLink, HttpChannel, SocketIOChannel

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_INTERVAL_S = 10
# Executed command ids older than this are forgotten at start: far older than any redelivery
# (commands expire within hours).
EXECUTED_IDS_KEPT_S = 30 * 86_400


class Service(Protocol):
    """Something the agent runs beside its loop (a public PC's session watch)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Agent:
    """Every ``heartbeat_interval_s`` a heartbeat, every ``inventory_interval_s`` an inventory,
    both spooled first and then handed to the link, which sends what it can."""

    def __init__(
        self,
        *,
        spool: Spool,
        link: ControllerLink,
        metrics: MetricsCollector,
        inventory: InventoryCollector,
        role: Role,
        commands: CommandRunner | None = None,
        services: list[Service] | None = None,
        heartbeat_interval_s: int = DEFAULT_HEARTBEAT_INTERVAL_S,
        inventory_interval_s: float = 86_400,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.spool = spool
        self.link = link
        self.metrics = metrics
        self.inventory = inventory
        self.role = role
        self.commands = commands
        self.services = services or []
        self.heartbeat_interval_s = heartbeat_interval_s
        self.inventory_interval_s = inventory_interval_s
        self._clock = clock
        self._now = now
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._heartbeat_now = threading.Event()
        self._inventory_now = threading.Event()

    def run(self) -> None:
        """Loop until :meth:`stop`; never sleeps past the next thing due."""
        log.info(
            "agent running as %s, heartbeat every %d s", self.role.kind, self.heartbeat_interval_s
        )
        if self.commands is not None:
            self.commands.start()
        for service in self.services:
            service.start()
        try:
            self._loop()
        finally:
            for service in self.services:
                service.stop()
            if self.commands is not None:
                self.commands.stop()
        log.info("agent stopping")

    def _loop(self) -> None:
        next_heartbeat = next_inventory = self._clock()
        while not self._stopping.is_set():
            now = self._clock()
            if self._heartbeat_now.is_set():
                self._heartbeat_now.clear()
                next_heartbeat = now
            if self._inventory_now.is_set():
                self._inventory_now.clear()
                next_inventory = now
            if now >= next_inventory:
                self._guarded(self.spool_inventory)
                next_inventory = now + self.inventory_interval_s
            if now >= next_heartbeat:
                self._guarded(self.spool_heartbeat)
                next_heartbeat += self.heartbeat_interval_s
                if next_heartbeat <= now:  # suspended or stalled: do not fire a burst to catch up
                    next_heartbeat = now + self.heartbeat_interval_s
            link_due = self._guarded(self.link.flush) or now + 1.0
            if self._stopping.is_set():
                break
            timeout = min(next_heartbeat, next_inventory, link_due) - self._clock()
            self._wake.wait(max(0.0, timeout))
            self._wake.clear()

    def stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler or another thread)."""
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Run the loop now (the Socket.IO connection dropped, a command arrived …)."""
        self._wake.set()

    def set_heartbeat_interval(self, seconds: int) -> None:
        """Use a new interval from now on; a heartbeat goes at once to announce it."""
        self.heartbeat_interval_s = seconds
        self._heartbeat_now.set()
        self._wake.set()

    def set_inventory_interval(self, seconds: float) -> None:
        """Use a new inventory interval; an inventory goes at once (the old schedule may be a
        day away)."""
        self.inventory_interval_s = seconds
        self._inventory_now.set()
        self._wake.set()

    def set_inventory_collector(self, inventory: InventoryCollector) -> None:
        """Swap the inventory collector (a new device name) and send an inventory at once."""
        self.inventory = inventory
        self._inventory_now.set()
        self._wake.set()

    def apply_remote_settings(
        self, update: UpdateConfigArgs, previous: UpdateConfigArgs | None = None
    ) -> str:
        """Apply an ``update_config`` live; return what changed since ``previous`` (the remote
        settings before it), for the command's output."""
        previous = previous or UpdateConfigArgs()
        changed = []
        if update.heartbeat_interval_s is not None:
            self.set_heartbeat_interval(update.heartbeat_interval_s)
            changed.append(f"heartbeat_interval_s = {update.heartbeat_interval_s}")
        if update.inventory_interval_s is not None:
            self.set_inventory_interval(update.inventory_interval_s)
            changed.append(f"inventory_interval_s = {update.inventory_interval_s}")
        if update.idle_timeout_s is not None or update.max_session_s is not None:
            for service in self.services:
                if isinstance(service, PublicPc):
                    service.set_limits(
                        idle_timeout_s=update.idle_timeout_s, max_session_s=update.max_session_s
                    )
            for name in ("idle_timeout_s", "max_session_s"):
                if getattr(update, name) is not None:
                    changed.append(f"{name} = {getattr(update, name)}")
        if isinstance(self.role, HotspotRole):
            changed += portal_changes(previous, update)
        if update.device_name is not None:
            self.set_inventory_collector(
                InventoryCollector(agent_version=agent_version(), name=update.device_name)
            )
            changed.append(f"device_name = {update.device_name!r}")
        return "applied: " + ", ".join(changed) if changed else "nothing to change"

    def spool_heartbeat(self) -> Heartbeat:
        metrics = self.metrics.collect()
        state = self.role.state()
        event = self.spool.append(
            lambda seq: Heartbeat(
                seq=seq,
                at=self._now(),
                interval_s=self.heartbeat_interval_s,
                metrics=metrics,
                state=state,
            )
        )
        assert isinstance(event, Heartbeat)
        return event

    def spool_inventory(self) -> InventoryReport:
        inventory = self.inventory.collect()
        event = self.spool.append(
            lambda seq: InventoryReport(seq=seq, at=self._now(), inventory=inventory)
        )
        assert isinstance(event, InventoryReport)
        log.info("inventory spooled (seq %d)", event.seq)
        return event

    def _guarded(self, step: Callable[[], object]) -> object:
        # One failing step (a full disk, a psutil quirk) must not stop the agent.
        try:
            return step()
        except Exception:
            log.exception("%s failed", getattr(step, "__name__", step))
            return None


def agent_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("borne")
    except PackageNotFoundError:
        return ""


def build_agent(
    settings: AgentSettings, credentials: Credentials, *, recent_log: RecentLog | None = None
) -> Agent:
    """Wire spool, collectors, role, channels, link and commands from settings and credentials.

    Settings the controller set remotely (``update_config``) are applied on top of ``settings``.
    ``recent_log`` holds the agent's last log lines for ``collect_logs``.
    """
    state_dir = Path(settings.state_dir)
    ensure_state_dir(state_dir)
    remote = load_remote_settings(state_dir)
    settings = with_remote_settings(settings, remote)
    controller_url = settings.controller_url or credentials.controller_url
    spool = Spool(state_dir / SPOOL_FILE, max_events=settings.spool_max_events)
    spool.forget_executed_before(time.time() - EXECUTED_IDS_KEPT_S)
    socket = SocketIOChannel(
        controller_url,
        credentials.device_id,
        credentials.device_secret,
        timeout_s=settings.http_timeout_s,
    )
    http = HttpChannel(
        controller_url,
        credentials.device_id,
        credentials.device_secret,
        timeout_s=settings.http_timeout_s,
    )
    link = ControllerLink(
        spool,
        socket,
        http,
        backoff_min_s=settings.backoff_min_s,
        backoff_max_s=settings.backoff_max_s,
    )
    interval = (
        settings.heartbeat_interval_s
        or _valid_interval(credentials.heartbeat_interval_s)
        or DEFAULT_HEARTBEAT_INTERVAL_S
    )
    role = role_for(credentials.kind)
    agent = Agent(
        spool=spool,
        link=link,
        metrics=MetricsCollector(),
        inventory=InventoryCollector(agent_version=agent_version(), name=settings.device_name),
        role=role,
        heartbeat_interval_s=interval,
        inventory_interval_s=settings.inventory_interval_s,
    )

    hand_over: Callable[[UpdateConfigArgs], bool] | None = None
    if isinstance(role, HotspotRole):
        hand_over = functools.partial(hand_over_portal_settings, settings.portal_state_dir)
        # At each start too: the portal's state directory may have been emptied since.
        agent._guarded(lambda: hand_over(remote))

    def apply_config(update: UpdateConfigArgs) -> str:
        previous = load_remote_settings(state_dir)
        update, stale = without_stale_portal_settings(previous, update)
        merged = save_remote_settings(state_dir, update)  # first: it survives a restart
        if hand_over is not None:
            hand_over(merged)
        return "; ".join([agent.apply_remote_settings(update, previous), *stale])

    actions = actions_for(
        settings.actions,
        recent_log=recent_log,
        wol_broadcast=settings.wol_broadcast,
        wol_port=settings.wol_port,
    )
    if isinstance(role, PcRole):
        public_pc = build_public_pc(
            settings,
            spool,
            actions,
            wake=lambda: agent.wake(),
            simulated=settings.actions == ActionsMode.SIMULATED,
        )
        actions.session = public_pc
        agent.services.append(public_pc)
        role.session_active = lambda: public_pc.tracker.active
        role.login_locked = public_pc.login_locked_reason
    if isinstance(role, HotspotRole):
        watch = PortalWatch(
            portal_state_dir=settings.portal_state_dir,
            state_dir=state_dir,
            events=spool,
            on_event=lambda: agent.wake(),
            every_s=settings.portal_stats_interval_s,
        )
        agent.services.append(watch)
        role.portal_state = watch.state
    agent.commands = CommandRunner(
        spool=spool,
        role=role,
        actions=actions,
        claimer=link,
        apply_config=apply_config,
        on_result=agent.wake,
    )
    # The agent exists only now: wake it when the link drops; commands go to the runner's queue.
    socket.on_disconnect = agent.wake
    socket.on(COMMAND_EVENT, agent.commands.receive)
    link.on_command = agent.commands.receive
    return agent


def build_public_pc(
    settings: AgentSettings,
    spool: Spool,
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
        on_event=wake,
        login=login,
    )
    resetter.on_report = public_pc.report_wipe  # the reports go where the sessions go
    return public_pc


def _not_yet(report: object) -> None:
    raise RuntimeError("a wipe report before the public PC was wired")


def run(settings: AgentSettings, credentials: Credentials) -> int:
    """Run the agent until SIGTERM or SIGINT; close the connection and the spool; return 0."""
    recent_log = RecentLog()
    logging.getLogger("agent").addHandler(recent_log)
    agent = build_agent(settings, credentials, recent_log=recent_log)
    log.info(
        "device %s (%s), controller %s, state in %s",
        credentials.device_id,
        credentials.kind,
        settings.controller_url or credentials.controller_url,
        settings.state_dir,
    )

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        agent.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        agent.run()
    finally:
        agent.link.close()
        agent.spool.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        logging.getLogger("agent").removeHandler(recent_log)
    log.info("agent stopped")
    return 0


def _valid_interval(value: int) -> int | None:
    return value if 1 <= value <= 3600 else None
