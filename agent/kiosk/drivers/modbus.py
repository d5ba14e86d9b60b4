"""A serial lock board speaking Modbus RTU (:class:`ModbusLockBoard`), with pymodbus and pyserial.

Many relay and lock boards sold for lockers speak Modbus RTU on RS-485 (a USB adapter on the
kiosk's PC): one coil drives each lock, one discrete input reads each door sensor.

Register map (addresses as sent on the wire, from 0; a manual that numbers coils from 1, or
"00001", means address 0 here):

* the lock of locker n is coil ``first_coil + n - 1`` (read 0x01, write single coil 0x05):
  ON = unlocked (released), OFF = locked;
* the door of locker n is discrete input ``first_input + n - 1`` (read 0x02): ON = closed,
  OFF = open.

``first_coil`` and ``first_input`` are the settings ``kiosk_modbus_first_coil`` and
``kiosk_modbus_first_input`` (0 by default, as on most boards), the unit id
``kiosk_modbus_unit`` (1), the speed ``kiosk_modbus_baud`` (9600), the framing 8N1.

Why "ON = unlocked": a board that loses power, or restarts, comes back with every coil OFF, so
every locker locked; a door that should be open is then shut by a hand and stays latched, and the
bank sees it. Nothing opens because the power flickered.

What keeps a wrong write from reaching a lock:

* the locker number is checked against the bank's size before it becomes an address
  (:func:`~agent.kiosk.drivers.base.check_locker`), and the addresses are checked against the
  Modbus range when the board is set up;
* a lock is only ever written with "write single coil" (0x05), one coil at a time: never a
  multiple write that could touch a neighbour;
* reading a door writes nothing; an error writes nothing more (no "safe state" guessed and sent);
  closing the driver writes nothing;
* a request that got no answer is sent again, at most ``retries`` times: the same single-coil
  write repeated sets the same coil to the same value, so a lost answer cannot open a second
  locker. An exception answer is never retried;
* the board's echo of a write must name the coil and the value that were sent, or the call fails;
* pymodbus opens the port exclusively (pyserial's ``flock``): another program that honours the
  lock cannot interleave frames on the line; one mutex serialises the bank's own calls.

Every failure is a :class:`~agent.kiosk.drivers.base.DriverError` that tells a technician what
to check: the port, the board's power and cable, its unit id and speed, its register map.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from agent.kiosk.drivers.base import DriverError, check_locker
from agent.protocol import DoorState

# What a technician should do about each exception answer (Modbus Application Protocol v1.1b3,
# section 7).
_REFUSALS: dict[int, str] = {
    ExcCodes.ILLEGAL_FUNCTION: (
        "illegal function: the board does not take this request (read coils or discrete "
        "inputs, write a single coil); is it a Modbus lock or relay board?"
    ),
    ExcCodes.ILLEGAL_ADDRESS: (
        "illegal data address: the board has no such coil or input; check kiosk_lockers, "
        "kiosk_modbus_first_coil and kiosk_modbus_first_input against its manual"
    ),
    ExcCodes.ILLEGAL_VALUE: "illegal data value: the board refused the value sent",
    ExcCodes.DEVICE_FAILURE: (
        "device failure: the board reports an internal fault; power-cycle it, and replace it "
        "if the fault stays"
    ),
    ExcCodes.DEVICE_BUSY: "busy: the board is busy; it should answer at the next try",
    ExcCodes.GATEWAY_PATH_UNAVIABLE: (
        "gateway path unavailable: a gateway between the kiosk and the board cannot reach it"
    ),
    ExcCodes.GATEWAY_NO_RESPONSE: (
        "gateway: no answer from the board behind it; check kiosk_modbus_unit and its cable"
    ),
}
_BAUDS = frozenset({1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200})


class ModbusLockBoard:
    """Lockers ``1`` … ``count`` on a Modbus RTU board at ``unit`` on serial port ``port``.

    Nothing is sent and the port is not opened until the first call; a port that failed is
    opened again at the next one (the adapter was plugged back in).
    """

    def __init__(
        self,
        port: str,
        *,
        count: int = 8,
        unit: int = 1,
        baudrate: int = 9600,
        first_coil: int = 0,
        first_input: int = 0,
        timeout_s: float = 0.5,
        retries: int = 2,
    ) -> None:
        if not 1 <= count <= 64:
            raise ValueError(f"a lock board drives 1 to 64 lockers here, not {count}")
        if not 1 <= unit <= 247:
            raise ValueError(f"a Modbus unit id is 1 to 247, not {unit}")
        if baudrate not in _BAUDS:
            raise ValueError(f"{baudrate} is not a serial speed: {sorted(_BAUDS)}")
        for name, first in (("first_coil", first_coil), ("first_input", first_input)):
            if not 0 <= first <= 0x10000 - count:
                raise ValueError(f"{name} {first} leaves no room for {count} lockers")
        if timeout_s <= 0 or not 0 <= retries <= 5:
            raise ValueError("the timeout must be positive and retries 0 to 5")
        self.count = count
        self.port = port
        self.unit = unit
        self.baudrate = baudrate
        self.first_coil = first_coil
        self.first_input = first_input
        self.timeout_s = timeout_s
        self.retries = retries
        self._client = ModbusSerialClient(
            port,
            framer=FramerType.RTU,
            baudrate=baudrate,
            bytesize=8,
            parity="N",
            stopbits=1,
            timeout=timeout_s,
            retries=retries,
        )
        self._mutex = threading.Lock()
        self._closed = False

    def unlock(self, number: int) -> None:
        self._set_lock(number, released=True)

    def lock(self, number: int) -> None:
        self._set_lock(number, released=False)

    def door(self, number: int) -> DoorState:
        check_locker(number, self.count)
        address = self.first_input + number - 1
        response = self._ask(
            f"read the door sensor of locker {number} (discrete input {address})",
            lambda: self._client.read_discrete_inputs(address, count=1, device_id=self.unit),
        )
        if not response.bits:
            raise DriverError(
                f"the lock board ({self._where()}) answered without the door sensor of locker "
                f"{number} (discrete input {address})"
            )
        return DoorState.CLOSED if response.bits[0] else DoorState.OPEN

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            self._client.close()  # type: ignore[no-untyped-call]  # pymodbus leaves it untyped

    # -- internals -------------------------------------------------------------------------------

    def _set_lock(self, number: int, *, released: bool) -> None:
        check_locker(number, self.count)
        address = self.first_coil + number - 1
        what = f"{'unlock' if released else 'lock'} locker {number} (coil {address})"
        response = self._ask(
            what, lambda: self._client.write_coil(address, released, device_id=self.unit)
        )
        echoed = [bool(bit) for bit in response.bits[:1]]
        if response.address != address or echoed != [released]:
            raise DriverError(
                f"the lock board ({self._where()}) was asked to {what} and answered for coil "
                f"{response.address} = {echoed[0] if echoed else 'nothing'}: is another device "
                f"on the line using unit id {self.unit}?"
            )

    def _ask(self, what: str, request: Callable[[], ModbusPDU]) -> ModbusPDU:
        """Send one request (pymodbus retries it on silence) and return the board's answer."""
        with self._mutex:
            if self._closed:
                raise DriverError("the lock board's port was closed: the kiosk is stopping")
            try:
                response = request()
            except ConnectionException as exc:
                raise DriverError(self._cannot_open()) from exc
            except ModbusIOException as exc:
                tries = self.retries + 1
                raise DriverError(
                    f"the lock board ({self._where()}) did not answer when asked to {what} "
                    f"({tries} {'try' if tries == 1 else 'tries'} of {self.timeout_s:g} s): "
                    f"check its power supply and its cable, that its unit id is {self.unit} "
                    f"(kiosk_modbus_unit) and its speed {self.baudrate} baud "
                    f"(kiosk_modbus_baud)"
                ) from exc
            except (ModbusException, OSError) as exc:
                raise DriverError(
                    f"the lock board ({self._where()}) could not {what}: {exc}"
                ) from exc
        if response.isError():
            code = response.exception_code
            reason = _REFUSALS.get(code, "an exception the Modbus standard does not define")
            raise DriverError(
                f"the lock board ({self._where()}) refused to {what}: Modbus exception {code}, "
                f"{reason}"
            )
        return response

    def _where(self) -> str:
        return f"unit {self.unit} on {self.port}"

    def _cannot_open(self) -> str:
        if not os.path.exists(self.port):
            return (
                f"the lock board's serial port {self.port} does not exist: check that its "
                f"USB-RS485 adapter is plugged in, and kiosk_serial_port"
            )
        return (
            f"the lock board's serial port {self.port} cannot be opened: another program may "
            f"be using it, or the agent's user may not (it needs the dialout group)"
        )
