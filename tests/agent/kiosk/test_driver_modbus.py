"""The Modbus RTU driver against a lock board emulated by pymodbus's own server, over a real
serial line: two pseudo-terminals joined like a null-modem cable (what ``socat`` does), the driver
on one end and the board on the other, RTU frames with their CRC crossing the kernel's tty layer.

The board has 16 coils (locks, ON = unlocked) and 16 discrete inputs (door sensors, ON = closed)
at unit id 1; the test sets its doors and reads back what it was asked.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.pdu.bit_message import WriteSingleCoilResponse
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from agent.kiosk.drivers import DriverError
from agent.kiosk.drivers.modbus import ModbusLockBoard
from agent.protocol import DoorState

BOARD_UNIT = 1
BOARD_SIZE = 16  # coils and inputs
READ_COILS, READ_INPUTS, WRITE_COIL = 0x01, 0x02, 0x05
# Two tries of half a second: a board that answers does so in milliseconds even on a loaded CI
# machine, and a silent one costs the suite one second per call.
TIMEOUT_S = 0.5


@dataclass
class NullModem:
    """Two pseudo-terminals whose masters are joined by a relay thread."""

    driver_end: str
    board_end: str


def _relay(a: int, b: int, stop: int) -> None:
    while True:
        ready, _, _ = select.select([a, b, stop], [], [])
        if stop in ready:
            return
        for source, sink in ((a, b), (b, a)):
            if source in ready:
                os.write(sink, os.read(source, 4096))


@pytest.fixture
def null_modem() -> Iterator[NullModem]:
    a_master, a_slave = os.openpty()
    b_master, b_slave = os.openpty()
    for fd in (a_slave, b_slave):
        tty.setraw(fd)  # no echo, no line discipline: bytes cross as they are
    stop_read, stop_write = os.pipe()
    relay = threading.Thread(target=_relay, args=(a_master, b_master, stop_read), daemon=True)
    relay.start()
    try:
        # The slaves stay open here, so a master never reads EIO between two users of its end.
        yield NullModem(os.ttyname(a_slave), os.ttyname(b_slave))
    finally:
        os.write(stop_write, b"x")
        relay.join(5)
        for fd in (a_master, a_slave, b_master, b_slave, stop_read, stop_write):
            os.close(fd)


@dataclass
class LockBoard:
    """The emulated board's hardware: its relays and door sensors, and what it was asked."""

    coils: list[bool] = field(default_factory=lambda: [False] * BOARD_SIZE)
    doors_closed: list[bool] = field(default_factory=lambda: [True] * BOARD_SIZE)
    # (function code, address) of every request that reached the board, in order.
    requests: list[tuple[int, int]] = field(default_factory=list)
    # An exception the board answers every request with (a fault), or None.
    fault: ExcCodes | None = None

    async def serve(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this before it answers from ``registers``: for each request, and again
        (without values) when it reads back a coil it wrote, to echo it."""
        echo = function_code == WRITE_COIL and set_values is None
        if not echo:
            self.requests.append((function_code, address))
        if self.fault is not None:
            return self.fault
        if function_code == WRITE_COIL and set_values is not None:
            self.coils[address] = bool(set_values[0])
        bits = self.doors_closed if function_code == READ_INPUTS else self.coils
        registers[0] = sum(1 << i for i, on in enumerate(bits) if on)  # bit n = address n
        return None

    def writes(self) -> list[tuple[int, int]]:
        return [request for request in self.requests if request[0] == WRITE_COIL]


class BoardServer:
    """pymodbus's RTU server for ``board`` on ``port``, in a thread with its own event loop."""

    def __init__(self, board: LockBoard, port: str) -> None:
        self.board = board
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: ModbusSerialServer | None = None

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)

    def stop(self) -> None:
        """Stop answering (the board's power is cut); the line stays plugged in."""
        if self.server is not None:
            shutdown = self.server.shutdown()  # type: ignore[no-untyped-call]
            asyncio.run_coroutine_threadsafe(shutdown, self.loop).result(5)
            self.server = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _listen(self) -> None:
        bits = [False] * BOARD_SIZE
        device = SimDevice(
            id=BOARD_UNIT,
            simdata=(
                [SimData(0, values=bits, datatype=DataType.BITS)],  # coils
                [SimData(0, values=bits, datatype=DataType.BITS)],  # discrete inputs
                [SimData(0, datatype=DataType.REGISTERS)],  # holding registers: none used
                [SimData(0, datatype=DataType.REGISTERS)],  # input registers: none used
            ),
            action=self.board.serve,
        )
        self.server = ModbusSerialServer(
            device, port=self.port, baudrate=9600, trace_packet=_only_its_own_unit
        )
        await self.server.serve_forever(background=True)


def _only_its_own_unit(sending: bool, frame: bytes) -> bytes:
    """Keep the board quiet about frames addressed to another unit, as the serial-line spec has
    it (Modbus over Serial Line v1.02, 2.2): pymodbus's server would answer them with an
    exception, which no board on a shared RS-485 line does."""
    if sending and frame and frame[0] != BOARD_UNIT:
        return b""
    return frame


@pytest.fixture
def board() -> LockBoard:
    return LockBoard()


@pytest.fixture
def board_server(board: LockBoard, null_modem: NullModem) -> Iterator[BoardServer]:
    server = BoardServer(board, null_modem.board_end)
    server.start()
    try:
        yield server
    finally:
        server.close()


def driver_for(
    null_modem: NullModem,
    *,
    count: int = 8,
    unit: int = 1,
    first_coil: int = 0,
    first_input: int = 0,
) -> Iterator[ModbusLockBoard]:
    """The driver on the kiosk's end of the line, closed after the ``for`` that uses it."""
    driver = ModbusLockBoard(
        null_modem.driver_end,
        count=count,
        unit=unit,
        first_coil=first_coil,
        first_input=first_input,
        timeout_s=TIMEOUT_S,
        retries=1,
    )
    try:
        yield driver
    finally:
        driver.close()


@pytest.fixture
def driver(null_modem: NullModem, board_server: BoardServer) -> Iterator[ModbusLockBoard]:
    yield from driver_for(null_modem)


def test_unlock_sets_the_lockers_coil_and_lock_clears_it(
    driver: ModbusLockBoard, board: LockBoard
) -> None:
    driver.unlock(3)
    assert board.coils[:8] == [False, False, True, False, False, False, False, False]

    driver.lock(3)
    assert board.coils == [False] * BOARD_SIZE
    assert board.writes() == [(WRITE_COIL, 2), (WRITE_COIL, 2)]


def test_the_door_is_read_from_the_lockers_input_and_reading_writes_nothing(
    driver: ModbusLockBoard, board: LockBoard
) -> None:
    board.doors_closed[4] = False

    assert driver.door(5) is DoorState.OPEN
    assert driver.door(4) is DoorState.CLOSED
    board.doors_closed[4] = True
    assert driver.door(5) is DoorState.CLOSED

    assert board.requests == [(READ_INPUTS, 4), (READ_INPUTS, 3), (READ_INPUTS, 4)]


def test_the_first_coil_and_input_settings_move_the_register_map(
    null_modem: NullModem, board_server: BoardServer, board: LockBoard
) -> None:
    board.doors_closed[10] = False
    for driver in driver_for(null_modem, count=4, first_coil=8, first_input=7):
        driver.unlock(1)
        assert driver.door(4) is DoorState.OPEN

    assert [n for n, on in enumerate(board.coils) if on] == [8]
    assert board.requests == [(WRITE_COIL, 8), (READ_INPUTS, 10)]


def test_a_silent_board_is_a_driver_error_and_is_used_again_once_it_answers(
    driver: ModbusLockBoard, board_server: BoardServer, board: LockBoard
) -> None:
    assert driver.door(1) is DoorState.CLOSED
    board_server.stop()

    with pytest.raises(DriverError) as refused:
        driver.unlock(1)
    message = str(refused.value)
    assert "did not answer when asked to unlock locker 1" in message
    assert "2 tries of 0.5 s" in message
    assert "power supply and its cable" in message and "kiosk_modbus_unit" in message

    board_server.start()  # the board is powered again: no restart of the kiosk needed
    driver.unlock(1)
    assert board.coils[0] is True


def test_an_exception_answer_is_a_driver_error_that_is_not_retried(
    driver: ModbusLockBoard, board: LockBoard
) -> None:
    board.fault = ExcCodes.DEVICE_FAILURE

    with pytest.raises(
        DriverError, match=r"refused to unlock locker 2 .*exception 4, device failure"
    ):
        driver.unlock(2)

    assert board.coils == [False] * BOARD_SIZE
    assert board.writes() == [(WRITE_COIL, 1)]  # sent once: an answer, even a refusal, ends it


def test_an_address_the_board_does_not_have_is_refused_and_nothing_is_written(
    null_modem: NullModem, board_server: BoardServer, board: LockBoard
) -> None:
    for driver in driver_for(null_modem, first_coil=12):  # coils 12 … 19 on a 16-coil board
        with pytest.raises(DriverError) as refused:
            driver.unlock(5)

    assert "illegal data address" in str(refused.value)
    assert "kiosk_modbus_first_coil" in str(refused.value)
    assert board.coils == [False] * BOARD_SIZE


def test_a_wrong_unit_id_is_a_driver_error_naming_the_unit_and_opens_nothing(
    null_modem: NullModem, board_server: BoardServer, board: LockBoard
) -> None:
    for driver in driver_for(null_modem, unit=2):
        with pytest.raises(DriverError, match="unit 2 on /dev/pts/") as refused:
            driver.unlock(1)

    assert "did not answer" in str(refused.value)
    assert "its unit id is 2 (kiosk_modbus_unit)" in str(refused.value)

    assert board.coils == [False] * BOARD_SIZE


def test_a_locker_outside_the_bank_never_reaches_the_board(
    driver: ModbusLockBoard, board: LockBoard
) -> None:
    with pytest.raises(ValueError, match="numbered 1 to 8"):
        driver.unlock(9)
    with pytest.raises(ValueError):
        driver.door(0)

    assert board.requests == []


def test_a_missing_serial_port_says_which_setting_to_check() -> None:
    driver = ModbusLockBoard("/dev/ttyUSB-borne-missing", timeout_s=TIMEOUT_S, retries=0)

    with pytest.raises(DriverError, match=r"does not exist.*kiosk_serial_port"):
        driver.unlock(1)


def test_an_echo_naming_another_coil_is_refused(
    driver: ModbusLockBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A board that acted on another coil than the one asked: pymodbus's server cannot be made to
    # do it, so the client's answer is replaced here (a unit test of the check, not of the line).
    def wrong_echo(address: int, value: bool, *, device_id: int) -> WriteSingleCoilResponse:
        return WriteSingleCoilResponse(address=address + 1, bits=[value], dev_id=device_id)

    monkeypatch.setattr(driver._client, "write_coil", wrong_echo)

    with pytest.raises(DriverError, match="answered for coil 3"):
        driver.unlock(3)


def test_a_closed_driver_frees_the_port_for_another(
    null_modem: NullModem, board_server: BoardServer, board: LockBoard
) -> None:
    for first in driver_for(null_modem):
        first.unlock(1)
    with pytest.raises(DriverError, match="closed"):
        first.lock(1)

    for second in driver_for(null_modem):
        second.lock(1)

    assert board.coils[0] is False
