"""What a device does besides reporting, by kind: ``pc``, ``kiosk``, ``hotspot``.

Each role adds its state to heartbeats and says which commands it handles. Sessions and the
privacy wipe (pc), lockers (kiosk) and the captive portal's supervision (hotspot) plug in here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Protocol

from agent.protocol import CommandName, DeviceKind

# Every device can be rebooted, updated, configured, asked for its logs, and asked to wake a
# neighbour of its site (wake-on-LAN must come from inside the site's network).
_EVERY_DEVICE = frozenset(
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
_SCREEN = frozenset({CommandName.LOCK_SCREEN, CommandName.UNLOCK_SCREEN, CommandName.SHOW_MESSAGE})


class Role(Protocol):
    """One device kind's job on the device."""

    kind: DeviceKind
    commands: frozenset[CommandName]

    def state(self) -> dict[str, str]:
        """Short key/value state carried by every heartbeat (at most 32 keys)."""
        ...


class PcRole:
    """A public PC: residents' sessions and the guest account's wipe (:mod:`agent.pc`)."""

    kind = DeviceKind.PC
    commands: ClassVar[frozenset[CommandName]] = (
        _EVERY_DEVICE | _SCREEN | {CommandName.RESET_SESSION}
    )

    def __init__(self) -> None:
        # Set by the daemon when the PC is run for real (None in the demo's simulated PCs).
        self.session_active: Callable[[], bool] | None = None
        self.login_locked: Callable[[], str | None] | None = None

    def state(self) -> dict[str, str]:
        state = {"role": self.kind.value}
        if self.session_active is not None:
            state["session"] = "active" if self.session_active() else "none"
        if self.login_locked is not None:
            reason = self.login_locked()
            state["guest_login"] = "locked" if reason else "open"
            if reason:
                state["locked_because"] = reason[:200]
        return state


class KioskRole:
    """A charging kiosk (later: its lockers)."""

    kind = DeviceKind.KIOSK
    commands: ClassVar[frozenset[CommandName]] = _EVERY_DEVICE | _SCREEN

    def state(self) -> dict[str, str]:
        return {"role": self.kind.value}


class HotspotRole:
    """A wifi hotspot gateway: supervises the captive portal (:mod:`agent.hotspot`)."""

    kind = DeviceKind.HOTSPOT
    commands: ClassVar[frozenset[CommandName]] = _EVERY_DEVICE

    def __init__(self) -> None:
        # Set by the daemon: the portal's state as the last statistics showed it.
        self.portal_state: Callable[[], dict[str, str]] | None = None

    def state(self) -> dict[str, str]:
        state = {"role": self.kind.value}
        if self.portal_state is not None:
            state.update(self.portal_state())
        return state


def role_for(kind: DeviceKind) -> Role:
    roles: dict[DeviceKind, type[PcRole] | type[KioskRole] | type[HotspotRole]] = {
        DeviceKind.PC: PcRole,
        DeviceKind.KIOSK: KioskRole,
        DeviceKind.HOTSPOT: HotspotRole,
    }
    return roles[DeviceKind(kind)]()
