"""The charging kiosk's locker drivers: one interface (:mod:`agent.kiosk.drivers.base`), three
implementations (simulated, a Modbus RTU lock board, GPIO lines), chosen by ``kiosk_driver``."""

from agent.kiosk.drivers.base import (
    DriverError,
    DriverKind,
    KioskDriverSettings,
    LockerDriver,
    make_driver,
)
from agent.kiosk.drivers.simulated import SimulatedBank

__all__ = [
    "DriverError",
    "DriverKind",
    "KioskDriverSettings",
    "LockerDriver",
    "SimulatedBank",
    "make_driver",
]
