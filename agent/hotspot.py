"""The ``hotspot`` role (:class:`HotspotRole`): supervise the captive portal, forward its
statistics, and hand it the settings the controller sends (:func:`hand_over_portal_settings`).

The portal writes aggregates to ``<portal state dir>/stats.json`` (:mod:`captive_portal.snapshot`:
clients now, connections per hour, the day's distinct devices, ended sessions' lengths — never an
address). This module reads it every half minute and spools a
:class:`~agent.protocol.PortalStats` event with what changed since the last one it sent, so the
controller's counts stay right across lost connections and restarts of either side:

* hourly counts are running totals ("12 so far this hour"): resending one is harmless;
* ended sessions are sent once: a cursor (the newest ``ended_at`` sent, and how many sessions
  ended at that minute) is kept in the agent's state directory.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Protocol

import msgspec

from agent import protocol
from agent.periodic import Periodic
from agent.protocol import (
    PORTAL_READS_NEARBY,
    PORTAL_SETTINGS,
    AgentEvent,
    CommandName,
    DeviceKind,
    UpdateConfigArgs,
)
from agent.roles import EVERY_DEVICE, Service, Wiring
from captive_portal.managed import (
    DamagedManagedSettings,
    ManagedSettings,
    NearbyPlace,
    read_managed_settings,
    write_managed_settings,
)
from captive_portal.snapshot import EndedSession, PortalSnapshot, read_snapshot

log = logging.getLogger(__name__)

WATCH_EVERY_S = 30.0
CURSOR_FILE = "portal-cursor.json"
# A snapshot older than this means the portal is not running (it rewrites it every 10 s).
STALE_AFTER = timedelta(seconds=60)
MAX_HOURS = 48
MAX_SESSIONS = 2000


class HotspotRole:
    """A wifi hotspot gateway: the portal watched (:class:`PortalWatch`), and the controller's
    ``portal_*`` settings handed to it."""

    name = DeviceKind.HOTSPOT
    commands: ClassVar[frozenset[CommandName]] = EVERY_DEVICE
    redacts_residents = False  # the portal keeps nothing of a device but a salted hash

    def __init__(self) -> None:
        self.watch: PortalWatch | None = None  # once wired
        self.portal_state_dir: Path | None = None

    def state(self) -> dict[str, str]:
        # PORTAL_READS_NEARBY: the controller may send this agent the nearby public places.
        return {**(self.watch.state() if self.watch is not None else {}), PORTAL_READS_NEARBY: "1"}

    def wire(self, wiring: Wiring) -> list[Service]:
        settings = wiring.settings
        self.portal_state_dir = settings.portal_state_dir
        try:  # at each start: the portal's state directory may have been emptied since
            hand_over_portal_settings(self.portal_state_dir, wiring.remote)
        except Exception:  # the portal keeps its own settings; the agent runs on
            log.exception("handing the controller's settings over to the portal failed")
        self.watch = PortalWatch(
            portal_state_dir=settings.portal_state_dir,
            state_dir=settings.state_dir,
            events=wiring.events,
            on_event=wiring.wake,
            every_s=settings.portal_stats_interval_s,
        )
        return [self.watch]

    def screen_update(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs
    ) -> tuple[UpdateConfigArgs, list[str]]:
        return without_stale_portal_settings(previous, update)

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        if self.portal_state_dir is not None:
            hand_over_portal_settings(self.portal_state_dir, in_force)
        return portal_changes(previous, update)


def without_stale_portal_settings(
    previous: UpdateConfigArgs, update: UpdateConfigArgs
) -> tuple[UpdateConfigArgs, list[str]]:
    """``update`` without its portal settings when they are older than those in force (a
    command queued on the controller and delivered after a newer one), and why, for the
    command's output."""
    if (
        update.portal_revision is None
        or previous.portal_revision is None
        or update.portal_revision >= previous.portal_revision
    ):
        return update, []
    kept = msgspec.structs.replace(update, **dict.fromkeys(PORTAL_SETTINGS))
    return kept, [
        f"portal settings of revision {update.portal_revision} ignored: "
        f"revision {previous.portal_revision} is in force"
    ]


def portal_changes(previous: UpdateConfigArgs, update: UpdateConfigArgs) -> list[str]:
    """The portal settings ``update`` changes, for the command's output (shown to staff on the
    controller: the code secret is never echoed, only whether it changed)."""
    changes = []
    for name in PORTAL_SETTINGS:
        value = getattr(update, name)
        if value is None or value == getattr(previous, name):
            continue
        if name == "portal_code_secret":
            changes.append("portal_code_secret changed (earlier tickets no longer open)")
        elif name == "portal_nearby_places":
            changes.append(f"portal_nearby_places: {len(value)} places")
        else:
            shown = value.value if isinstance(value, enum.Enum) else value
            changes.append(f"{name} = {shown!r}")
    return changes


def hand_over_portal_settings(portal_state_dir: Path, remote: UpdateConfigArgs) -> bool:
    """Write the controller's ``portal_*`` settings where the portal reads them (it takes them
    within seconds, see :mod:`captive_portal.managed`); True when the file changed."""
    managed = ManagedSettings(
        mode=remote.portal_mode.value if remote.portal_mode is not None else None,
        opening_hours=remote.portal_opening_hours,
        timezone=remote.portal_timezone,
        session_s=remote.portal_session_s,
        code_secret=remote.portal_code_secret,
        nearby_places=(
            None
            if (places := remote.portal_nearby_places) is None
            else tuple(NearbyPlace(**msgspec.structs.asdict(p)) for p in places)
        ),
        places_url=remote.portal_places_url,
    )
    if managed == ManagedSettings():
        return False  # not managed from the controller: the portal's own file rules
    try:
        if read_managed_settings(portal_state_dir) == managed:
            return False
    except DamagedManagedSettings:
        pass  # rewritten below
    write_managed_settings(portal_state_dir, managed)
    return True


class EventSink(Protocol):
    def append(self, build: Callable[[int], AgentEvent]) -> AgentEvent: ...


class PortalWatch:
    """Reads the portal's snapshot and spools what is new for the controller."""

    def __init__(
        self,
        *,
        portal_state_dir: Path,
        state_dir: Path,
        events: EventSink,
        on_event: Callable[[], None] = lambda: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        every_s: float = WATCH_EVERY_S,
    ) -> None:
        self.portal_state_dir = Path(portal_state_dir)
        self.cursor_path = Path(state_dir) / CURSOR_FILE
        self.events = events
        self.on_event = on_event
        self._now = now
        self._sent_hours: dict[datetime, int] = {}
        self._sent: tuple[str, int, int] | None = None  # (day, clients now, unique) last sent
        self.last: PortalSnapshot | None = None
        self._periodic = Periodic("borne-portal", every_s, self.tick)

    def state(self) -> dict[str, str]:
        """For heartbeats: is the portal running, and how many devices are online through it."""
        snapshot = self.last
        if snapshot is None or self._now() - snapshot.at > STALE_AFTER:
            return {"portal": "not running"}
        return {"portal": "running", "portal_clients": str(snapshot.clients_now)}

    def tick(self) -> protocol.PortalStats | None:
        """Read the snapshot once; spool and return an event if anything changed."""
        snapshot = read_snapshot(self.portal_state_dir)
        self.last = snapshot
        if snapshot is None:
            return None
        cursor_at, cursor_n = self._load_cursor()
        hours = {
            hour: count
            for hour, count in sorted(snapshot.connections_by_hour.items())[-MAX_HOURS:]
            if self._sent_hours.get(hour) != count
        }
        sessions = sorted(snapshot.ended_sessions, key=lambda s: s.ended_at)
        new_sessions, new_cursor = _after_cursor(sessions, cursor_at, cursor_n)
        summary = (snapshot.day.isoformat(), snapshot.clients_now, snapshot.unique_devices_today)
        if not hours and not new_sessions and summary == self._sent:
            return None
        lengths = [s.seconds for s in new_sessions][:MAX_SESSIONS]
        event = self.events.append(
            lambda seq: protocol.PortalStats(
                seq=seq,
                at=self._now(),
                day=snapshot.day,
                clients_now=snapshot.clients_now,
                unique_devices_today=snapshot.unique_devices_today,
                connections_by_hour=[
                    protocol.PortalHour(hour=hour, connections=count)
                    for hour, count in hours.items()
                ],
                session_lengths_s=lengths,
            )
        )
        # Spooled (durable): only now is it safe to move the cursor.
        self._sent_hours.update(hours)
        self._sent = summary
        if new_cursor is not None:
            self._save_cursor(*new_cursor)
        self.on_event()
        assert isinstance(event, protocol.PortalStats)
        return event

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    def _load_cursor(self) -> tuple[datetime | None, int]:
        try:
            data = json.loads(self.cursor_path.read_text(encoding="utf-8"))
            return datetime.fromisoformat(data["ended_at"]), int(data["count"])
        except (OSError, ValueError, KeyError, TypeError):
            return None, 0

    def _save_cursor(self, ended_at: datetime, count: int) -> None:
        temporary = self.cursor_path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"ended_at": ended_at.isoformat(), "count": count}), encoding="utf-8"
        )
        temporary.replace(self.cursor_path)


def _after_cursor(
    sessions: list[EndedSession], cursor_at: datetime | None, cursor_n: int
) -> tuple[list[EndedSession], tuple[datetime, int] | None]:
    """Sessions not sent yet, given that ``cursor_n`` of those ending at ``cursor_at`` were."""
    new = []
    seen_at_cursor = 0
    for session in sessions:
        ended_at = session.ended_at
        if cursor_at is not None and ended_at < cursor_at:
            continue
        if cursor_at is not None and ended_at == cursor_at:
            seen_at_cursor += 1
            if seen_at_cursor <= cursor_n:
                continue
        new.append(session)
    if not new:
        return [], None
    last_at = new[-1].ended_at
    at_last = sum(1 for s in sessions if s.ended_at == last_at)
    return new, (last_at, at_last)
