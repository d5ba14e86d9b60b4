"""What a device does besides reporting: its roles, ``pc``, ``kiosk``, ``hotspot``, one or more.

A role says which commands it handles, adds its state to heartbeats, wires what it runs beside
the agent's loop, and applies the remote settings (``update_config``) it owns. Roles are
registered by name in :data:`ROLES`; the daemon wires the device's roles through
:class:`DeviceRoles` without knowing any of them, so a new role (a kiosk's lockers) plugs in here
and in its own module. Each role lives with its code: :mod:`agent.pc.role`, :mod:`agent.kiosk`,
:mod:`agent.hotspot`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from agent.protocol import CommandName, DeviceKind, UpdateConfigArgs

if TYPE_CHECKING:
    from agent.actions import Actions
    from agent.metrics import MetricsCollector
    from agent.settings import AgentSettings
    from agent.spool import Spool

# Every device can be rebooted, updated, configured, asked for its logs, and asked to wake a
# neighbour of its site (wake-on-LAN must come from inside the site's network).
EVERY_DEVICE = frozenset(
    {
        CommandName.REBOOT,
        CommandName.SHUTDOWN,
        CommandName.WAKE,
        CommandName.MAINTENANCE,
        CommandName.UPDATE_CONFIG,
        CommandName.COLLECT_LOGS,
    }
)
# Devices with a screen a resident looks at.
SCREEN = frozenset({CommandName.LOCK_SCREEN, CommandName.UNLOCK_SCREEN, CommandName.SHOW_MESSAGE})


class Service(Protocol):
    """Something the agent runs beside its loop (a public PC's session watch, the portal's)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Wiring:
    """What the agent hands a role when it wires it."""

    # The local settings with the controller's on top.
    settings: AgentSettings
    # The controller's settings in force at start (remote-settings.json), to hand over again:
    # what they were handed to may have been emptied since.
    remote: UpdateConfigArgs
    events: Spool
    actions: Actions
    # Run the agent's loop now (an event was spooled that the controller should see at once).
    wake: Callable[[], None]
    # The heartbeat's measurements, for a role that adds its own (a public PC's printers:
    # ``metrics.watch_printers``); None where the agent gives none.
    metrics: MetricsCollector | None = None


class Role(Protocol):
    """One role's job on the device."""

    @property
    def name(self) -> str:
        """The role's name: a :class:`~agent.protocol.DeviceKind`."""
        ...

    @property
    def commands(self) -> frozenset[CommandName]:
        """The commands this role handles."""
        ...

    @property
    def redacts_residents(self) -> bool:
        """Residents use the device: nothing they chose (a file's name, a network's) may leave
        it, so its events and logs are redacted (:mod:`agent.redaction`)."""
        ...

    def state(self) -> dict[str, str]:
        """Short key/value state for heartbeats, keys of this role's own (the agent adds
        ``role``); the device's roles share 31 keys."""
        ...

    def wire(self, wiring: Wiring) -> list[Service]:
        """Set the role up on the device; return what it runs beside the agent's loop (the
        agent starts and stops them)."""
        ...

    def screen_update(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs
    ) -> tuple[UpdateConfigArgs, list[str]]:
        """``update`` without the settings this role refuses before they are saved (older ones
        delivered late), and why, for the command's output."""
        ...

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        """Apply the settings of ``update`` this role owns (``update_config``, saved by now:
        ``in_force`` is the whole of the controller's settings); return what changed since
        ``previous``, one line each, for the command's output."""
        ...


class RoleDefaults:
    """What a role does unless it says otherwise: nothing to report, run or apply."""

    redacts_residents = False

    def state(self) -> dict[str, str]:
        return {}

    def wire(self, wiring: Wiring) -> list[Service]:
        return []

    def screen_update(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs
    ) -> tuple[UpdateConfigArgs, list[str]]:
        return update, []

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        return []


class DeviceRoles:
    """The device's roles put together, as one :class:`Role` for the agent and its commands.

    Heartbeats carry ``role``, the names joined by commas (``"kiosk,hotspot"``; ``"pc"`` for a
    one-role device), then each role's keys in the order of the roles; the device handles the
    commands of all of them; remote settings go to each in turn.
    """

    def __init__(self, roles: Sequence[Role]) -> None:
        if not roles:
            raise ValueError("a device runs at least one role")
        self.roles = tuple(roles)
        self.name = ",".join(role.name for role in self.roles)
        self.commands: frozenset[CommandName] = frozenset().union(
            *(role.commands for role in self.roles)
        )
        # One spool and one log for the device: redacted if any of its roles asks.
        self.redacts_residents = any(role.redacts_residents for role in self.roles)

    def state(self) -> dict[str, str]:
        state = {"role": self.name}
        for role in self.roles:
            state.update(role.state())
        return state

    def wire(self, wiring: Wiring) -> list[Service]:
        return [service for role in self.roles for service in role.wire(wiring)]

    def screen_update(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs
    ) -> tuple[UpdateConfigArgs, list[str]]:
        notes: list[str] = []
        for role in self.roles:
            update, refused = role.screen_update(update, previous=previous)
            notes += refused
        return update, notes

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        return [
            line
            for role in self.roles
            for line in role.update_config(update, previous=previous, in_force=in_force)
        ]


# Each role's module is imported only by a device that runs it: a kiosk does not load the public
# PC's code nor the captive portal's (the agent's footprint is bounded, see DESIGN.md).
def _pc() -> Role:
    from agent.pc.role import PcRole

    return PcRole()


def _kiosk() -> Role:
    from agent.kiosk import KioskRole

    return KioskRole()


def _hotspot() -> Role:
    from agent.hotspot import HotspotRole

    return HotspotRole()


# The roles by name: a new role registers its factory here.
ROLES: dict[DeviceKind, Callable[[], Role]] = {
    DeviceKind.PC: _pc,
    DeviceKind.KIOSK: _kiosk,
    DeviceKind.HOTSPOT: _hotspot,
}


def role_for(name: DeviceKind | str) -> Role:
    """A new role of this name (unwired)."""
    return ROLES[DeviceKind(name)]()


def roles_for(names: Sequence[DeviceKind | str]) -> DeviceRoles:
    """The device's roles, in the order named."""
    return DeviceRoles([role_for(name) for name in names])
