"""The simulated bank behaves like real lockers: springs, latches, a board that stops answering."""

from __future__ import annotations

import pytest

from agent.kiosk.drivers import DriverError, SimulatedBank
from agent.protocol import DoorState
from tests.polling import wait_for


def test_every_locker_starts_locked_and_shut() -> None:
    bank = SimulatedBank()

    assert bank.count == 8
    assert [bank.door(n) for n in range(1, 9)] == [DoorState.CLOSED] * 8
    assert all(bank.is_locked(n) for n in range(1, 9))


def test_unlocking_lets_the_door_spring_open_and_touches_no_other_locker() -> None:
    bank = SimulatedBank()

    bank.unlock(3)

    assert bank.door(3) is DoorState.OPEN
    assert not bank.is_locked(3)
    assert [bank.door(n) for n in (1, 2, 4, 5, 6, 7, 8)] == [DoorState.CLOSED] * 7
    assert bank.is_locked(2) and bank.is_locked(4)


def test_a_locked_shut_door_cannot_be_pulled_open() -> None:
    bank = SimulatedBank(count=2)

    assert bank.pull_open(1) is False
    assert bank.door(1) is DoorState.CLOSED


def test_locking_an_open_door_does_not_shut_it_and_a_hand_then_latches_it() -> None:
    bank = SimulatedBank()
    bank.unlock(5)

    bank.lock(5)
    assert bank.door(5) is DoorState.OPEN  # the lock engages, the door is still open
    bank.shut(5)

    assert bank.door(5) is DoorState.CLOSED
    assert bank.pull_open(5) is False
    assert bank.door(5) is DoorState.CLOSED


def test_a_door_shut_while_unlocked_opens_again_when_pulled() -> None:
    bank = SimulatedBank()
    bank.unlock(2)
    bank.shut(2)

    assert bank.door(2) is DoorState.CLOSED
    assert bank.pull_open(2) is True
    assert bank.door(2) is DoorState.OPEN


def test_a_failing_board_refuses_every_call_and_opens_nothing() -> None:
    bank = SimulatedBank()
    bank.failing = True

    with pytest.raises(DriverError, match="does not answer"):
        bank.unlock(1)
    with pytest.raises(DriverError):
        bank.lock(1)
    with pytest.raises(DriverError):
        bank.door(1)

    assert bank.is_locked(1)
    assert bank.pull_open(1) is False  # hands still work; the door is still latched
    bank.failing = False
    assert bank.door(1) is DoorState.CLOSED


def test_hands_still_shut_a_door_while_the_board_is_down() -> None:
    bank = SimulatedBank()
    bank.unlock(4)
    bank.failing = True

    bank.shut(4)

    bank.failing = False
    assert bank.door(4) is DoorState.CLOSED


@pytest.mark.parametrize("number", [0, 9, -1, True])
def test_a_locker_outside_the_bank_is_refused(number: int) -> None:
    bank = SimulatedBank()

    with pytest.raises(ValueError, match="lockers are numbered 1 to 8"):
        bank.unlock(number)
    with pytest.raises(ValueError):
        bank.pull_open(number)

    assert all(bank.is_locked(n) for n in range(1, 9))


def test_a_closed_driver_answers_nothing() -> None:
    bank = SimulatedBank()
    bank.close()

    with pytest.raises(DriverError, match="closed"):
        bank.door(1)


@pytest.mark.parametrize("count", [0, 65])
def test_a_bank_has_1_to_64_lockers(count: int) -> None:
    with pytest.raises(ValueError, match="1 to 64"):
        SimulatedBank(count=count)


def test_the_demos_hand_shuts_a_door_a_while_after_it_sprang_open() -> None:
    bank = SimulatedBank(2, hand_after_s=0.05)
    bank.unlock(1)
    assert bank.door(1) is DoorState.OPEN

    wait_for(lambda: bank.door(1) is DoorState.CLOSED, timeout=5, what="the hand")

    assert bank.door(2) is DoorState.CLOSED and SimulatedBank(1).hand_after_s == 0
