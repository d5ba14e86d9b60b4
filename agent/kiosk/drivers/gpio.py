"""Locks and door sensors wired to a Linux GPIO chip (:class:`GpioLocks`), through libgpiod v2
(the ``gpiod`` package and the kernel's GPIO character device).

Each locker has two lines of the chip ``kiosk_gpio_chip`` (``/dev/gpiochip0``): an output that
drives its lock (through a relay or a MOSFET) and an input that reads its door sensor, the lines
at the same position in ``kiosk_gpio_lock_lines`` and ``kiosk_gpio_door_lines``.

Levels are *logical*: a lock line is active when the lock is released, a door line is active
when the door is closed. ``kiosk_gpio_lock_active_low`` says the relay is driven by a low line
(most relay boards sold for single-board computers), ``kiosk_gpio_door_active_low`` that a shut
door pulls its line low (a reed switch to ground beside a pull-up). Wire the sensors so that a
cut wire reads "open": the bank then raises an incident instead of trusting a door that is not
there. The line's bias (pull-up or down) is the board's or the device tree's: this driver leaves
it as it is.

What keeps a lock from opening by mistake:

* the lines are requested, all at once and for this process alone, at the first call, with every
  lock line *inactive*, so every lock engaged: a restart or a crash of the agent never leaves a
  lock released by a stale value, and a line another program holds (``EBUSY``) fails the request
  before any line changes;
* a locker number is checked before it becomes a line offset;
* reading a door only reads; an error sets nothing; releasing the lines (:meth:`GpioLocks.close`)
  sets nothing — what the line does once free is the chip's (most keep the last value).

A missing chip, a line another program holds, a line the chip does not have: a
:class:`~agent.kiosk.drivers.base.DriverError` that names the setting to check; the request is
tried again at the next call.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import gpiod
from gpiod.line import Direction, Value

from agent.kiosk.drivers.base import DriverError, check_locker
from agent.protocol import DoorState

CONSUMER = "borne-kiosk"  # what gpioinfo shows as the lines' user


class LineRequest(Protocol):
    """The part of :class:`gpiod.LineRequest` this driver uses (tests pass a fake)."""

    def set_value(self, line: int, value: Value) -> None: ...
    def get_value(self, line: int) -> Value: ...
    def release(self) -> None: ...


RequestLines = Callable[..., LineRequest]


class GpioLocks:
    """Lockers ``1`` … ``len(lock_lines)`` on chip ``chip``.

    ``request_lines`` is :func:`gpiod.request_lines` (a test hands a fake): nothing is requested
    until the first call.
    """

    def __init__(
        self,
        chip: str,
        *,
        lock_lines: Sequence[int],
        door_lines: Sequence[int],
        lock_active_low: bool = False,
        door_active_low: bool = False,
        request_lines: RequestLines = gpiod.request_lines,
    ) -> None:
        lock_lines, door_lines = tuple(lock_lines), tuple(door_lines)
        if not 1 <= len(lock_lines) <= 64 or len(door_lines) != len(lock_lines):
            raise ValueError(
                f"one lock line and one door line per locker (1 to 64): got {len(lock_lines)} "
                f"lock lines and {len(door_lines)} door lines"
            )
        every = lock_lines + door_lines
        if len(set(every)) != len(every) or min(every) < 0:
            raise ValueError(f"each line is used once and is not negative: {list(every)}")
        self.count = len(lock_lines)
        self.chip = chip
        self.lock_lines = lock_lines
        self.door_lines = door_lines
        self._lock_settings = gpiod.LineSettings(
            direction=Direction.OUTPUT, output_value=Value.INACTIVE, active_low=lock_active_low
        )
        self._door_settings = gpiod.LineSettings(
            direction=Direction.INPUT, active_low=door_active_low
        )
        self._request_lines = request_lines
        self._request: LineRequest | None = None
        self._closed = False
        self._mutex = threading.Lock()

    def unlock(self, number: int) -> None:
        check_locker(number, self.count)
        self._set(number, Value.ACTIVE, f"unlock locker {number}")

    def lock(self, number: int) -> None:
        check_locker(number, self.count)
        self._set(number, Value.INACTIVE, f"lock locker {number}")

    def door(self, number: int) -> DoorState:
        check_locker(number, self.count)
        line = self.door_lines[number - 1]
        with self._mutex:
            request = self._requested()
            try:
                value = request.get_value(line)
            except OSError as exc:
                self._drop(request)
                raise DriverError(
                    f"could not read the door sensor of locker {number} (line {line} of "
                    f"{self.chip}): {exc.strerror or exc}"
                ) from exc
        return DoorState.CLOSED if value == Value.ACTIVE else DoorState.OPEN

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            if self._request is not None:
                self._drop(self._request)

    # -- internals -------------------------------------------------------------------------------

    def _set(self, number: int, value: Value, what: str) -> None:
        line = self.lock_lines[number - 1]
        with self._mutex:
            request = self._requested()
            try:
                request.set_value(line, value)
            except OSError as exc:
                self._drop(request)
                raise DriverError(
                    f"could not {what} (line {line} of {self.chip}): {exc.strerror or exc}"
                ) from exc

    def _requested(self) -> LineRequest:
        """The lines, requested now if they are not yet (every lock engaged)."""
        if self._closed:
            raise DriverError("the GPIO lines were released: the kiosk is stopping")
        if self._request is None:
            config = {self.lock_lines: self._lock_settings, self.door_lines: self._door_settings}
            try:
                self._request = self._request_lines(self.chip, config=config, consumer=CONSUMER)
            except (OSError, ValueError) as exc:
                raise DriverError(self._cannot_request(exc)) from exc
        return self._request

    def _drop(self, request: LineRequest) -> None:
        """Forget a request that failed (it is requested again at the next call)."""
        self._request = None
        with contextlib.suppress(OSError):  # the chip is gone: nothing is left to release
            request.release()

    def _cannot_request(self, exc: OSError | ValueError) -> str:
        lines = f"lock lines {_listed(self.lock_lines)}, door lines {_listed(self.door_lines)}"
        if isinstance(exc, ValueError):  # gpiod: an offset beyond the chip's last line
            return (
                f"{self.chip} does not have all of {lines} ({exc}): check kiosk_gpio_lock_lines "
                f"and kiosk_gpio_door_lines against gpioinfo"
            )
        if exc.errno == errno.ENOENT:
            return (
                f"the GPIO chip {self.chip} does not exist: check kiosk_gpio_chip "
                f"(gpiodetect lists the chips)"
            )
        if exc.errno in (errno.ENODEV, errno.ENOTTY):
            return f"{self.chip} is not a GPIO chip: check kiosk_gpio_chip (gpiodetect lists them)"
        if exc.errno == errno.EBUSY:
            return (
                f"a line of {self.chip} is already used by another program or driver ({lines}): "
                f"gpioinfo shows who holds it; check kiosk_gpio_lock_lines and "
                f"kiosk_gpio_door_lines"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return (
                f"the agent may not use {self.chip}: give its user access to the chip "
                f"(the gpio group, or a udev rule)"
            )
        if exc.errno == errno.EINVAL:
            return (
                f"{self.chip} refused the request for {lines} ({exc.strerror}): check that "
                f"these lines exist and can be inputs and outputs"
            )
        return f"could not request {lines} of {self.chip}: {exc.strerror or exc}"


def _listed(lines: Iterable[int]) -> str:
    return ",".join(str(line) for line in lines)
