"""The locker-driver interface (:class:`LockerDriver`), its error, its settings, and
:func:`make_driver` that picks the implementation the kiosk's settings name.

A driver does three things to locker ``n`` (1 … ``count``): release its lock (the door springs
open), engage it (the door latches when shut), and read its door sensor. It knows nothing of
phones, codes or rules: the bank (:mod:`agent.kiosk.bank`) decides, the driver obeys or says it
cannot. Every failure of the hardware — a board that does not answer or refuses, a GPIO chip that
is missing or busy — is a :class:`DriverError` whose message tells a technician what to check; the
bank shows it, raises a ``driver_down`` incident, and marks nothing as opened.

Three implementations, chosen by ``kiosk_driver``:

* ``simulated`` — :class:`~agent.kiosk.drivers.simulated.SimulatedBank`, lockers in memory, for
  the demo and the tests;
* ``modbus`` — :class:`~agent.kiosk.drivers.modbus.ModbusLockBoard`, a lock board on a serial
  line speaking Modbus RTU;
* ``gpio`` — :class:`~agent.kiosk.drivers.gpio.GpioLocks`, locks and door sensors wired to a
  Linux GPIO chip (libgpiod v2).

No driver talks to its hardware when it is built: the port or the lines are opened at the first
call and again after a failure, so a kiosk whose board is unplugged still starts, shows residents
that nothing can be opened, and tells staff why.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Protocol

from agent.protocol import DoorState
from borne.settings import ImproperlyConfigured

if TYPE_CHECKING:
    from agent.settings import AgentSettings


class DriverKind(enum.StrEnum):
    """The values of ``kiosk_driver``."""

    SIMULATED = "simulated"
    MODBUS = "modbus"
    GPIO = "gpio"


class DriverError(Exception):
    """The lock board or the GPIO chip did not answer or refused; the message says what to check.

    Nothing may be assumed of the locker after it: the bank treats its door as unknown and its
    lock as not released.
    """


class LockerDriver(Protocol):
    """Locks and door sensors of lockers ``1`` … ``count``.

    A number outside that range is a programming error (the bank checks what residents type):
    it raises :class:`ValueError` before anything reaches the hardware.
    """

    count: int

    def unlock(self, number: int) -> None:
        """Release the lock of locker ``number``: its door springs open. DriverError."""
        ...

    def lock(self, number: int) -> None:
        """Engage the lock of locker ``number``: its door latches once shut. DriverError."""
        ...

    def door(self, number: int) -> DoorState:
        """``CLOSED`` or ``OPEN``, from locker ``number``'s door sensor. DriverError."""
        ...

    def close(self) -> None:
        """Release the serial port or the GPIO lines; the locks stay as they are."""
        ...


def check_locker(number: int, count: int) -> None:
    """Refuse a locker number outside ``1`` … ``count`` before it becomes an address."""
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= count:
        raise ValueError(f"there is no locker {number!r}: lockers are numbered 1 to {count}")


@dataclasses.dataclass(frozen=True)
class KioskDriverSettings:
    """What :func:`make_driver` needs; built from the agent's ``kiosk_*`` settings, which are
    validated where they are read (:class:`~agent.settings.AgentSettings`)."""

    driver: DriverKind = DriverKind.SIMULATED
    lockers: int = 8
    simulated_hand_s: float = 0.0  # simulated: a hand shuts an open door after this long
    # modbus: the serial line, the board's unit id and speed, its register map (see modbus.py).
    serial_port: str = ""
    modbus_unit: int = 1
    modbus_baud: int = 9600
    modbus_first_coil: int = 0
    modbus_first_input: int = 0
    # One request and its answer take about 20 ms at 9600 baud: half a second means the board is
    # not there, and two more tries ride out a burst of noise on the line. A call that fails
    # has taken timeout * (retries + 1) = 1.5 s, once, before the bank says the driver is down.
    modbus_timeout_s: float = 0.5
    modbus_retries: int = 2
    # gpio: the chip's device file and one line per locker for its lock and its door sensor.
    gpio_chip: str = ""
    gpio_lock_lines: tuple[int, ...] = ()
    gpio_door_lines: tuple[int, ...] = ()
    gpio_lock_active_low: bool = False
    gpio_door_active_low: bool = False

    @classmethod
    def from_agent_settings(cls, settings: AgentSettings) -> KioskDriverSettings:
        """The driver settings of a kiosk's agent.

        ``kiosk_driver`` left empty means the simulated bank on a simulated device (the demo, the
        tests: ``actions = "simulated"``) and is refused anywhere else: a real kiosk that quietly
        drove imaginary lockers would take residents' phones behind doors that never lock.
        """
        if settings.kiosk_driver:
            driver = DriverKind(settings.kiosk_driver)
        elif settings.actions == "simulated":
            driver = DriverKind.SIMULATED
        else:
            raise ImproperlyConfigured(
                "setting kiosk_driver is required on a charging kiosk: modbus (a serial lock "
                "board), gpio (locks wired to GPIO lines) or simulated (no hardware, a demo)"
            )
        return cls(
            driver=driver,
            lockers=settings.kiosk_lockers,
            simulated_hand_s=settings.kiosk_simulated_hand_s,
            serial_port=settings.kiosk_serial_port,
            modbus_unit=settings.kiosk_modbus_unit,
            modbus_baud=settings.kiosk_modbus_baud,
            modbus_first_coil=settings.kiosk_modbus_first_coil,
            modbus_first_input=settings.kiosk_modbus_first_input,
            gpio_chip=settings.kiosk_gpio_chip,
            gpio_lock_lines=tuple(settings.kiosk_gpio_lock_lines),
            gpio_door_lines=tuple(settings.kiosk_gpio_door_lines),
            gpio_lock_active_low=settings.kiosk_gpio_lock_active_low,
            gpio_door_active_low=settings.kiosk_gpio_door_active_low,
        )


def make_driver(settings: KioskDriverSettings) -> LockerDriver:
    """The driver ``settings.driver`` names; nothing is sent to the hardware yet.

    The implementations are imported here, on demand: a simulated kiosk needs neither pymodbus
    nor gpiod, and a GPIO kiosk does not load pymodbus.
    """
    kind = DriverKind(settings.driver)
    if kind is DriverKind.SIMULATED:
        from agent.kiosk.drivers.simulated import SimulatedBank

        return SimulatedBank(settings.lockers, hand_after_s=settings.simulated_hand_s)
    if kind is DriverKind.MODBUS:
        if not settings.serial_port:
            raise ImproperlyConfigured(
                "setting kiosk_serial_port is required with kiosk_driver = modbus: the lock "
                "board's serial port, such as /dev/ttyUSB0"
            )
        try:
            from agent.kiosk.drivers.modbus import ModbusLockBoard
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"kiosk_driver = modbus needs pymodbus and pyserial (pip install 'borne[kiosk]'): "
                f"{exc}"
            ) from exc
        return ModbusLockBoard(
            settings.serial_port,
            count=settings.lockers,
            unit=settings.modbus_unit,
            baudrate=settings.modbus_baud,
            first_coil=settings.modbus_first_coil,
            first_input=settings.modbus_first_input,
            timeout_s=settings.modbus_timeout_s,
            retries=settings.modbus_retries,
        )
    if not settings.gpio_chip:
        raise ImproperlyConfigured(
            "setting kiosk_gpio_chip is required with kiosk_driver = gpio: the chip's device "
            "file, such as /dev/gpiochip0 (gpiodetect lists them)"
        )
    for name in ("gpio_lock_lines", "gpio_door_lines"):
        if len(getattr(settings, name)) != settings.lockers:
            raise ImproperlyConfigured(
                f"setting kiosk_{name} must list one line per locker ({settings.lockers}, "
                f"kiosk_lockers), got {list(getattr(settings, name))}"
            )
    try:
        from agent.kiosk.drivers.gpio import GpioLocks
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"kiosk_driver = gpio needs gpiod (pip install 'borne[kiosk]'): {exc}"
        ) from exc
    return GpioLocks(
        settings.gpio_chip,
        lock_lines=settings.gpio_lock_lines,
        door_lines=settings.gpio_door_lines,
        lock_active_low=settings.gpio_lock_active_low,
        door_active_low=settings.gpio_door_active_low,
    )
