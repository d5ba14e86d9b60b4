"""``borne agent run``: the loop that spools heartbeats and inventory and sends them.

:func:`build_agent` wires the small objects (spool, collectors, role, channels, link) and
:func:`run` runs them until SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from agent.credentials import Credentials, ensure_state_dir
from agent.inventory import InventoryCollector
from agent.metrics import MetricsCollector
from agent.protocol import Heartbeat, InventoryReport
from agent.roles import Role, role_for
from agent.settings import AgentSettings
from agent.spool import SPOOL_FILE, Spool
from agent.transport import ControllerLink, HttpChannel, SocketIOChannel

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_INTERVAL_S = 10


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
        self.heartbeat_interval_s = heartbeat_interval_s
        self.inventory_interval_s = inventory_interval_s
        self._clock = clock
        self._now = now
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def run(self) -> None:
        """Loop until :meth:`stop`; never sleeps past the next thing due."""
        log.info(
            "agent running as %s, heartbeat every %d s", self.role.kind, self.heartbeat_interval_s
        )
        next_heartbeat = next_inventory = self._clock()
        while not self._stopping.is_set():
            now = self._clock()
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
        log.info("agent stopping")

    def stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler or another thread)."""
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Run the loop now (the Socket.IO connection dropped, a command arrived …)."""
        self._wake.set()

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


def build_agent(settings: AgentSettings, credentials: Credentials) -> Agent:
    """Wire spool, collectors, role, channels and link from settings and credentials."""
    state_dir = Path(settings.state_dir)
    ensure_state_dir(state_dir)
    controller_url = settings.controller_url or credentials.controller_url
    spool = Spool(state_dir / SPOOL_FILE, max_events=settings.spool_max_events)
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
    agent = Agent(
        spool=spool,
        link=link,
        metrics=MetricsCollector(),
        inventory=InventoryCollector(agent_version=agent_version(), name=settings.device_name),
        role=role_for(credentials.kind),
        heartbeat_interval_s=interval,
        inventory_interval_s=settings.inventory_interval_s,
    )
    socket.on_disconnect = agent.wake  # the agent exists only now: wake it when the link drops
    return agent


def run(settings: AgentSettings, credentials: Credentials) -> int:
    """Run the agent until SIGTERM or SIGINT; close the connection and the spool; return 0."""
    agent = build_agent(settings, credentials)
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
    log.info("agent stopped")
    return 0


def _valid_interval(value: int) -> int | None:
    return value if 1 <= value <= 3600 else None
