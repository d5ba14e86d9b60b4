"""The ``kiosk`` role: a charging kiosk's screen (its lockers will plug in here)."""

from __future__ import annotations

from typing import ClassVar

from agent.protocol import (
    SERVICE_STATE_KEY,
    CommandName,
    DeviceKind,
    ServiceState,
    UpdateConfigArgs,
)
from agent.roles import EVERY_DEVICE, SCREEN, RoleDefaults, Service, Wiring


class KioskRole(RoleDefaults):
    """A charging kiosk: for now, its screen's commands, nothing running beside the agent, and
    whether a technician took it out of service.

    The switch (``update_config``'s ``out_of_service``) is kept where every remote setting is,
    in ``remote-settings.json``, so it survives a restart; heartbeats report it as ``service``.
    The kiosk has no page of its own yet: the lockers' page, when it comes, shows residents the
    kiosk is out of service from :attr:`out_of_service`.
    """

    name = DeviceKind.KIOSK
    commands: ClassVar[frozenset[CommandName]] = EVERY_DEVICE | SCREEN

    def __init__(self) -> None:
        self.out_of_service = False

    def state(self) -> dict[str, str]:
        # Always there: it also tells the controller that this agent reads out_of_service.
        service = ServiceState.OUT_OF_SERVICE if self.out_of_service else ServiceState.IN_SERVICE
        return {SERVICE_STATE_KEY: service.value}

    def wire(self, wiring: Wiring) -> list[Service]:
        self.out_of_service = bool(wiring.remote.out_of_service)
        return []

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        if update.out_of_service is None:
            return []
        self.out_of_service = update.out_of_service
        return [f"out_of_service = {update.out_of_service}"]
