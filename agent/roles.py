"""What a device does besides reporting, by kind: ``pc``, ``kiosk``, ``hotspot``.

For now each role only adds its state to heartbeats. Sessions and the privacy wipe (pc), lockers
(kiosk) and the captive portal's supervision (hotspot) plug in here.
"""

from __future__ import annotations

from typing import Protocol

from agent.protocol import DeviceKind


class Role(Protocol):
    """One device kind's job on the device."""

    kind: DeviceKind

    def state(self) -> dict[str, str]:
        """Short key/value state carried by every heartbeat (at most 32 keys)."""
        ...


class PcRole:
    """A public PC (later: sessions and the guest account's wipe)."""

    kind = DeviceKind.PC

    def state(self) -> dict[str, str]:
        return {"role": self.kind.value}


class KioskRole:
    """A charging kiosk (later: its lockers)."""

    kind = DeviceKind.KIOSK

    def state(self) -> dict[str, str]:
        return {"role": self.kind.value}


class HotspotRole:
    """A wifi hotspot gateway (later: supervision of the captive portal)."""

    kind = DeviceKind.HOTSPOT

    def state(self) -> dict[str, str]:
        return {"role": self.kind.value}


def role_for(kind: DeviceKind) -> Role:
    roles: dict[DeviceKind, type[PcRole] | type[KioskRole] | type[HotspotRole]] = {
        DeviceKind.PC: PcRole,
        DeviceKind.KIOSK: KioskRole,
        DeviceKind.HOTSPOT: HotspotRole,
    }
    return roles[DeviceKind(kind)]()
