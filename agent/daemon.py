"""``borne agent run``: the loop that spools heartbeats and inventory and sends them.

:func:`build_agent` wires the small objects (spool, collectors, the device's roles, channels,
link, command runner and its system actions) and :func:`run` runs them until SIGTERM or SIGINT.
Commands run on the runner's own thread (:mod:`agent.commands`), never on this loop. The daemon
knows no role by name: each one wires itself (:mod:`agent.roles`).
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from agent import upgrade
from agent.actions import Outcome, RecentLog, actions_for
from agent.commands import AnswerLater, CommandRunner, SettingsNotApplied
from agent.credentials import Credentials, ensure_state_dir, replace_secret
from agent.inventory import InventoryCollector
from agent.metrics import MetricsCollector
from agent.private_files import write_private_json
from agent.protocol import (
    AGENT_FEATURES,
    COMMAND_EVENT,
    Heartbeat,
    InventoryReport,
    UpdateConfigArgs,
)
from agent.roles import Role, Service, Wiring, roles_for
from agent.settings import (
    AgentSettings,
    load_remote_settings,
    merge_remote_settings,
    remote_settings_path,
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
        roles: Role,
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
        self.roles = roles  # the device's roles together (agent.roles.DeviceRoles)
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
        self.restart_requested = False  # an upgrade installed a new version (agent/upgrade.py)

    def run(self) -> None:
        """Loop until :meth:`stop`; never sleeps past the next thing due."""
        log.info(
            "agent running as %s, heartbeat every %d s", self.roles.name, self.heartbeat_interval_s
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

    def restart_after_upgrade(self) -> None:
        """Stop, then :func:`run` re-executes the agent: the new version is installed."""
        self.restart_requested = True
        self.stop()

    def running_command_id(self) -> str:
        return self.commands.running_command_id if self.commands is not None else ""

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
        self,
        update: UpdateConfigArgs,
        previous: UpdateConfigArgs | None = None,
        in_force: UpdateConfigArgs | None = None,
    ) -> str:
        """Apply an ``update_config`` live; return what changed since ``previous`` (the remote
        settings before it), for the command's output.

        The agent applies its own settings and hands the roles theirs; ``in_force`` is the whole
        of the controller's settings once ``update`` is saved.
        """
        previous = previous or UpdateConfigArgs()
        in_force = in_force or merge_remote_settings(previous, update)
        changed = []
        if update.heartbeat_interval_s is not None:
            self.set_heartbeat_interval(update.heartbeat_interval_s)
            changed.append(f"heartbeat_interval_s = {update.heartbeat_interval_s}")
        if update.inventory_interval_s is not None:
            self.set_inventory_interval(update.inventory_interval_s)
            changed.append(f"inventory_interval_s = {update.inventory_interval_s}")
        changed += self.roles.update_config(update, previous=previous, in_force=in_force)
        if update.device_name is not None:
            self.set_inventory_collector(
                InventoryCollector(agent_version=agent_version(), name=update.device_name)
            )
            changed.append(f"device_name = {update.device_name!r}")
        return "applied: " + ", ".join(changed) if changed else "nothing to change"

    def spool_heartbeat(self) -> Heartbeat:
        metrics = self.metrics.collect()
        state = self.roles.state()
        event = self.spool.append(
            lambda seq: Heartbeat(
                seq=seq,
                at=self._now(),
                interval_s=self.heartbeat_interval_s,
                metrics=metrics,
                state=state,
                # Kept by the controller with the device: it decides which settings it sends.
                features=list(AGENT_FEATURES),
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
    """Wire spool, collectors, roles, channels, link and commands from settings and credentials.

    Settings the controller set remotely (``update_config``) are applied on top of ``settings``.
    The device runs the roles of the setting ``roles``, or the one of its enrolled kind (raises
    :class:`~borne.settings.ImproperlyConfigured` when ``roles`` leaves that kind out).
    ``recent_log`` holds the agent's last log lines for ``collect_logs``.
    """
    roles = roles_for(settings.roles_of(credentials.kind))
    state_dir = Path(settings.state_dir)
    ensure_state_dir(state_dir)
    running_version = agent_version()
    # Before the settings are read: a rolled-back upgrade puts back the ones it came with.
    settled = upgrade.settle(state_dir, running_version)
    if settled is not None and settled.restore is not None:
        write_private_json(remote_settings_path(state_dir), settled.restore)
    remote = load_remote_settings(state_dir)
    settings = with_remote_settings(settings, remote)
    controller_url = settings.controller_url or credentials.controller_url
    spool = _spool(roles, state_dir / SPOOL_FILE, max_events=settings.spool_max_events)
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
        keep_secret=functools.partial(replace_secret, state_dir),  # a rotation's new secret
    )
    upgrades = upgrade.AgentUpgrade(
        state_dir, http, running_version=running_version, timeout_s=settings.upgrade_timeout_s
    )
    interval = (
        settings.heartbeat_interval_s
        or _valid_interval(credentials.heartbeat_interval_s)
        or DEFAULT_HEARTBEAT_INTERVAL_S
    )
    agent = Agent(
        spool=spool,
        link=link,
        metrics=MetricsCollector(),
        inventory=InventoryCollector(agent_version=running_version, name=settings.device_name),
        roles=roles,
        heartbeat_interval_s=interval,
        inventory_interval_s=settings.inventory_interval_s,
    )

    def apply_config(update: UpdateConfigArgs) -> str:
        previous = load_remote_settings(state_dir)
        update, refused = roles.screen_update(update, previous=previous)
        if upgrades.wanted(update):
            upgrade_to(update, previous)
        in_force = save_remote_settings(state_dir, update)  # first: it survives a restart
        try:
            applied = agent.apply_remote_settings(update, previous, in_force)
        except Exception as exc:
            keep_previous_settings(state_dir, agent, previous, failed=in_force)
            raise SettingsNotApplied(
                f"could not apply these settings ({type(exc).__name__}: {exc}); "
                "the previous ones are kept"
            ) from exc
        return "; ".join([applied, *refused])

    def upgrade_to(update: UpdateConfigArgs, previous: UpdateConfigArgs) -> None:
        """Another release: its settings saved for the new version to start with (nothing
        applied live: this process is about to become that version), then the upgrade."""
        assert update.agent_version is not None
        save_remote_settings(state_dir, update)
        try:
            upgrades.start(update.agent_version, agent.running_command_id(), previous)
        except upgrade.UpgradeFailed as exc:
            write_private_json(remote_settings_path(state_dir), previous)
            raise SettingsNotApplied(f"{exc}; the previous settings are kept") from exc
        agent.restart_after_upgrade()
        raise AnswerLater

    actions = actions_for(
        settings.actions,
        recent_log=recent_log,
        wol_broadcast=settings.wol_broadcast,
        wol_port=settings.wol_port,
    )
    agent.services += roles.wire(
        Wiring(
            settings=settings,
            remote=remote,
            events=spool,
            actions=actions,
            wake=agent.wake,
            metrics=agent.metrics,
        )
    )
    agent.commands = CommandRunner(
        spool=spool,
        role=roles,
        actions=actions,
        claimer=link,
        apply_config=apply_config,
        on_result=agent.wake,
    )
    # The agent exists only now: wake it when the link drops; commands go to the runner's queue.
    socket.on_disconnect = agent.wake
    socket.on(COMMAND_EVENT, agent.commands.receive)
    link.on_command = agent.commands.receive
    if settled is not None:  # the upgrade's command, answered by the version that runs now
        agent.commands.answer(settled.command_id, Outcome(settled.ok, settled.output))
    if upgrade.needs_confirmation(state_dir, running_version):
        confirm = functools.partial(_confirm_upgrade, agent, state_dir, running_version)
        link.on_acknowledged = confirm
    return agent


def _confirm_upgrade(agent: Agent, state_dir: Path, running_version: str) -> None:
    """The controller acknowledged this (new) version's events: the upgrade is done."""
    agent.link.on_acknowledged = None
    done = upgrade.confirm(state_dir, running_version)
    if done is not None and agent.commands is not None:
        log.info("upgrade confirmed: %s", done.output)
        agent.commands.answer(done.command_id, Outcome(done.ok, done.output))


def redact_logs_of(roles: Role, handlers: Sequence[logging.Handler]) -> Callable[[], None]:
    """When residents use the device (a public PC), redact what ``handlers`` write as its events
    are (``collect_logs`` ships the agent's logs, and they stay on the device); return what
    undoes it."""
    if not roles.redacts_residents:
        return lambda: None
    from agent.redaction import redact_logs

    return redact_logs(handlers)


def run(settings: AgentSettings, credentials: Credentials) -> int:
    """Run the agent until SIGTERM or SIGINT; close the connection and the spool; return 0.

    After an upgrade installed a new version, it re-executes itself instead of returning."""
    recent_log = RecentLog()
    logging.getLogger("agent").addHandler(recent_log)
    agent = build_agent(settings, credentials, recent_log=recent_log)
    # Every handler the agent's records reach: its recent lines, and the root logger's stderr,
    # which the journal keeps.
    stop_redacting = redact_logs_of(agent.roles, [recent_log, *logging.getLogger().handlers])
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
        stop_redacting()
    if agent.restart_requested:
        log.info("restarting into the new version")
        upgrade.reexec()
    log.info("agent stopped")
    return 0


def keep_previous_settings(
    state_dir: Path, agent: Agent, previous: UpdateConfigArgs, *, failed: UpdateConfigArgs
) -> None:
    """Put back the remote settings in force before an ``update_config`` that could not be
    applied: on disk first (a restart must not bring the failed ones back), then live again,
    so the device runs as it did and the controller is told it failed."""
    write_private_json(remote_settings_path(state_dir), previous)
    try:
        agent.apply_remote_settings(previous, failed, previous)
    except Exception:  # the previous ones applied before: say so, the file is right anyway
        log.exception("the previous settings could not be applied again")


def _spool(roles: Role, path: Path, *, max_events: int) -> Spool:
    """The spool every event goes through; redacting each as it is stored when residents use
    the device: nothing they chose may leave it, not even in an error message (DESIGN.md,
    Privacy)."""
    if not roles.redacts_residents:
        return Spool(path, max_events=max_events)
    from agent.redaction import RedactingSpool

    return RedactingSpool(path, max_events=max_events)


def _valid_interval(value: int) -> int | None:
    return value if 1 <= value <= 3600 else None
