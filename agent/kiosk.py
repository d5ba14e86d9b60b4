"""The ``kiosk`` role: a charging kiosk's screen (its lockers will plug in here)."""

from __future__ import annotations

from typing import ClassVar

from agent.protocol import CommandName, DeviceKind
from agent.roles import EVERY_DEVICE, SCREEN, RoleDefaults


class KioskRole(RoleDefaults):
    """A charging kiosk: for now, its screen's commands and nothing running beside the agent."""

    name = DeviceKind.KIOSK
    commands: ClassVar[frozenset[CommandName]] = EVERY_DEVICE | SCREEN
