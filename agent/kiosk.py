"""The ``kiosk`` role: a charging kiosk's screen (its lockers will plug in here)."""

from __future__ import annotations

from typing import ClassVar

from agent.protocol import CommandName, DeviceKind, UpdateConfigArgs
from agent.roles import EVERY_DEVICE, SCREEN, Service, Wiring


class KioskRole:
    """A charging kiosk: for now, its screen's commands and nothing running beside the agent."""

    name = DeviceKind.KIOSK
    commands: ClassVar[frozenset[CommandName]] = EVERY_DEVICE | SCREEN

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
