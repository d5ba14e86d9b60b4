"""A bank of lockers in memory (:class:`SimulatedBank`): the demo's kiosk and the tests'.

It behaves like the hardware the bank must cope with, not like the bank hopes it does:

* a released lock lets its spring push the door open (:meth:`SimulatedBank.unlock`);
* an engaged lock does not shut an open door: a hand does (:meth:`SimulatedBank.shut`), and the
  door latches if the lock is engaged;
* a latched door does not open when pulled (:meth:`SimulatedBank.pull_open` returns False), an
  unlatched one does;
* :attr:`SimulatedBank.failing` is a board that stopped answering: every driver call raises
  :class:`~agent.kiosk.drivers.base.DriverError`, while hands still shut and pull doors;
* ``hand_after_s`` (the demo): a hand shuts each door that long after it sprang open, so that a
  newcomer at a browser sees the whole flow.

There is no sensor for a phone, so there is nothing here to put one in or take it out.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from agent.kiosk.drivers.base import DriverError, check_locker
from agent.protocol import DoorState


@dataclass
class _Locker:
    locked: bool = True
    closed: bool = True
    opened_at: float = 0.0  # time.monotonic() when it last sprang open


class SimulatedBank:
    """``count`` lockers, every one locked and shut at the start."""

    def __init__(self, count: int = 8, *, hand_after_s: float = 0.0) -> None:
        if not 1 <= count <= 64:
            raise ValueError(f"a bank has 1 to 64 lockers, not {count}")
        self.count = count
        self.hand_after_s = hand_after_s
        # The board does not answer: every driver call raises DriverError.
        self.failing = False
        self._lockers = [_Locker() for _ in range(count)]
        self._closed = False
        # The bank's tick and the touch page call from different threads.
        self._mutex = threading.Lock()

    # -- the driver ------------------------------------------------------------------------------

    def unlock(self, number: int) -> None:
        with self._mutex:
            locker = self._answering(number)
            locker.locked = False
            locker.closed = False  # the spring pushes the door open
            locker.opened_at = time.monotonic()

    def lock(self, number: int) -> None:
        with self._mutex:
            self._answering(number).locked = True

    def door(self, number: int) -> DoorState:
        with self._mutex:
            locker = self._answering(number)
            waited = time.monotonic() - locker.opened_at
            if self.hand_after_s and not locker.closed and waited >= self.hand_after_s:
                locker.closed = True  # the demo's hand
            return DoorState.CLOSED if locker.closed else DoorState.OPEN

    def close(self) -> None:
        with self._mutex:
            self._closed = True

    # -- a hand on the door, and a technician's look at the lock --------------------------------

    def shut(self, number: int) -> None:
        """Push locker ``number``'s door shut; it latches if its lock is engaged."""
        with self._mutex:
            self._locker(number).closed = True

    def pull_open(self, number: int) -> bool:
        """Pull locker ``number``'s door: it opens unless it is shut and locked. Whether it is
        open now."""
        with self._mutex:
            locker = self._locker(number)
            if locker.closed and locker.locked:
                return False
            locker.closed = False
            return True

    def is_locked(self, number: int) -> bool:
        """Whether locker ``number``'s lock is engaged (what a technician sees, not a sensor)."""
        with self._mutex:
            return self._locker(number).locked

    # -- internals -------------------------------------------------------------------------------

    def _locker(self, number: int) -> _Locker:
        check_locker(number, self.count)
        return self._lockers[number - 1]

    def _answering(self, number: int) -> _Locker:
        locker = self._locker(number)
        if self._closed:
            raise DriverError("the simulated lockers were closed: the kiosk is stopping")
        if self.failing:
            raise DriverError(
                "the simulated lock board does not answer (it was told to fail): nothing was opened"
            )
        return locker
