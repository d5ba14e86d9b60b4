"""Restarts and power cuts (agent/kiosk/bank.py, agent/kiosk/store.py): whatever moment the
kiosk stops at, the next start finds every locker in a state that loses nobody's phone.

A power cut is a driver that raises SystemExit at a door command — before it reaches the board,
or just after — so that nothing the bank would do next is done; then a new Bank on the same
state file and the same lockers (hardware outlives the agent) is the kiosk starting again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kiosk_testkit import Clock

from agent.kiosk.bank import Bank, BankConfig, KioskError
from agent.kiosk.codes import check_code
from agent.kiosk.drivers import SimulatedBank
from agent.kiosk.store import STORE_FILE, Store
from agent.protocol import (
    ChargingEnd,
    ChargingSession,
    DoorState,
    LockerIncident,
    LockerState,
    StaffOpening,
)


class PowerCut:
    """The lockers, until the power goes at the next ``cut_at`` call (``"unlock"`` or
    ``"lock"``): before the board acts on it, or after (``after=True``)."""

    def __init__(self, lockers: SimulatedBank, cut_at: str, *, after: bool = False) -> None:
        self.lockers = lockers
        self.count = lockers.count
        self.cut_at = cut_at
        self.after = after
        self.armed = False

    def _maybe_cut(self, call: str, number: int) -> None:
        if self.armed and call == self.cut_at:
            if self.after:
                getattr(self.lockers, call)(number)
            raise SystemExit(f"power cut at {call}({number})")
        getattr(self.lockers, call)(number)

    def unlock(self, number: int) -> None:
        self._maybe_cut("unlock", number)

    def lock(self, number: int) -> None:
        self._maybe_cut("lock", number)

    def door(self, number: int) -> DoorState:
        return self.lockers.door(number)

    def close(self) -> None:
        pass


def deposit(bank: Bank, lockers: SimulatedBank) -> tuple[int, str]:
    number = bank.choose()
    lockers.shut(number)
    return number, bank.deposit_done(number)


def state_of(bank: Bank, number: int) -> LockerState:
    return next(view.state for view in bank.lockers() if view.number == number)


def incidents(spooled: Callable[..., list[Any]]) -> list[tuple[str, int | None, bool]]:
    return [(i.kind.value, i.locker, i.resolved) for i in spooled(LockerIncident)]


def test_after_a_restart_every_code_still_opens_its_locker(
    bank: Bank, make_bank: Callable[..., Bank], lockers: SimulatedBank, clock: Clock
) -> None:
    phones = [deposit(bank, lockers) for _ in range(5)]
    clock.advance(minutes=20)

    restarted = make_bank()

    assert [state_of(restarted, n) for n, _ in phones] == [LockerState.OCCUPIED] * 5
    for number, code in phones:
        restarted.retrieve(number, code)
        assert lockers.door(number) is DoorState.OPEN


def test_every_change_is_on_disk_before_the_door_moves_and_before_the_code_is_shown(
    make_bank: Callable[..., Bank], lockers: SimulatedBank, tmp_path: Any
) -> None:
    seen: list[LockerState | None] = []

    class Witness(PowerCut):
        """Reads the state file from another connection (only what is committed) each time
        a lock is about to be released."""

        def unlock(self, number: int) -> None:
            reader = Store(tmp_path / STORE_FILE)
            record = reader.locker(number)
            reader.close()
            seen.append(record.state if record is not None else None)
            lockers.unlock(number)

    bank = make_bank(Witness(lockers, "never"))
    number = bank.choose()
    lockers.shut(number)
    code = bank.deposit_done(number)
    reader = Store(tmp_path / STORE_FILE)
    record = reader.locker(number)
    reader.close()
    bank.retrieve(number, code)

    assert record is not None and record.code_hash is not None
    assert check_code(code, record.code_hash), "the code's hash was committed before it was shown"
    # choose: DEPOSIT written before the door opened; retrieve: still OCCUPIED, with the
    # opening pending, before it opened.
    assert seen == [LockerState.DEPOSIT, LockerState.OCCUPIED]


def test_a_power_cut_before_the_door_opens_for_its_code_keeps_the_phone_and_its_code(
    make_bank: Callable[..., Bank], lockers: SimulatedBank, spooled: Callable[..., list[Any]]
) -> None:
    driver = PowerCut(lockers, "unlock")
    bank = make_bank(driver)
    number, code = deposit(bank, lockers)
    driver.armed = True

    with pytest.raises(SystemExit):
        bank.retrieve(number, code)
    restarted = make_bank()

    assert lockers.door(number) is DoorState.CLOSED
    assert state_of(restarted, number) is LockerState.OCCUPIED
    restarted.retrieve(number, code)
    assert lockers.door(number) is DoorState.OPEN
    [session] = spooled(ChargingSession)
    assert session.ended_by is ChargingEnd.CODE


def test_a_power_cut_once_the_door_opened_for_its_code_ends_the_stay_at_the_restart(
    make_bank: Callable[..., Bank], lockers: SimulatedBank, spooled: Callable[..., list[Any]]
) -> None:
    driver = PowerCut(lockers, "unlock", after=True)
    bank = make_bank(driver)
    number, code = deposit(bank, lockers)
    driver.armed = True

    with pytest.raises(SystemExit):
        bank.retrieve(number, code)
    assert spooled(ChargingSession) == [], "the stay had not ended when the power went"
    restarted = make_bank()

    assert state_of(restarted, number) is LockerState.FREE
    [session] = spooled(ChargingSession)
    assert (session.locker, session.ended_by) == (number, ChargingEnd.CODE)
    with pytest.raises(KioskError) as caught:
        restarted.retrieve(number, code)
    assert caught.value.code == "not_occupied"


def test_a_power_cut_before_a_staff_opening_leaves_the_phone_for_the_next_try(
    make_bank: Callable[..., Bank],
    lockers: SimulatedBank,
    clock: Clock,
    spooled: Callable[..., list[Any]],
) -> None:
    driver = PowerCut(lockers, "unlock")
    bank = make_bank(driver, config=BankConfig(max_charge_min=60))
    number, _ = deposit(bank, lockers)
    bank.tick(clock.advance(minutes=61))
    driver.armed = True

    with pytest.raises(SystemExit):
        bank.remote_open("bob", number, "overtime")
    restarted = make_bank(config=BankConfig(max_charge_min=60))

    assert state_of(restarted, number) is LockerState.OVERTIME
    assert spooled(StaffOpening) == []
    restarted.remote_open("bob", number, "overtime, again")
    assert [opening.reason for opening in spooled(StaffOpening)] == ["overtime, again"]


def test_a_power_cut_before_a_chosen_locker_opens_frees_it_again(
    make_bank: Callable[..., Bank], lockers: SimulatedBank
) -> None:
    driver = PowerCut(lockers, "unlock")
    driver.armed = True
    bank = make_bank(driver)

    with pytest.raises(SystemExit):
        bank.choose()
    restarted = make_bank()

    assert [view.state for view in restarted.lockers()] == [LockerState.FREE] * 8
    assert restarted.choose() in range(1, 9)


def test_a_power_cut_before_done_locks_gives_no_code_and_tells_staff_to_look_inside(
    make_bank: Callable[..., Bank], lockers: SimulatedBank, spooled: Callable[..., list[Any]]
) -> None:
    driver = PowerCut(lockers, "lock")
    bank = make_bank(driver)
    number = bank.choose()
    lockers.shut(number)  # the phone is inside
    driver.armed = True

    with pytest.raises(SystemExit):
        bank.deposit_done(number)
    restarted = make_bank()

    assert state_of(restarted, number) is LockerState.FREE
    assert incidents(spooled) == [("door_shut_empty", number, False)]
    assert "check that it is empty" in spooled(LockerIncident)[0].message
    assert not lockers.pull_open(number), "the phone is behind a latched door until staff come"


def test_a_restart_with_a_door_open_for_a_deposit_lets_the_resident_finish(
    bank: Bank,
    make_bank: Callable[..., Bank],
    lockers: SimulatedBank,
    spooled: Callable[..., list[Any]],
) -> None:
    number = bank.choose()

    restarted = make_bank()

    assert state_of(restarted, number) is LockerState.DEPOSIT
    assert incidents(spooled) == [("door_open", number, False)]
    lockers.shut(number)
    code = restarted.deposit_done(number)
    assert incidents(spooled)[-1] == ("door_open", number, True)
    restarted.retrieve(number, code)


def test_a_lock_left_released_is_engaged_at_start(
    bank: Bank, make_bank: Callable[..., Bank], lockers: SimulatedBank
) -> None:
    lockers.unlock(4)  # released when the power went; then a hand shut the door
    lockers.shut(4)
    assert lockers.pull_open(4)
    lockers.shut(4)

    make_bank()

    assert lockers.is_locked(4) and not lockers.pull_open(4)


def test_a_kiosk_that_starts_with_its_board_silent_moves_nothing_until_it_answers(
    bank: Bank,
    make_bank: Callable[..., Bank],
    lockers: SimulatedBank,
    clock: Clock,
) -> None:
    driver = PowerCut(lockers, "unlock", after=True)
    first = make_bank(driver)
    number, code = deposit(first, lockers)
    driver.armed = True
    with pytest.raises(SystemExit):
        first.retrieve(number, code)
    lockers.shut(number)  # the phone was taken, the door shut, before the agent came back
    lockers.failing = True

    restarted = make_bank()
    with pytest.raises(KioskError) as caught:
        restarted.retrieve(number, code)
    lockers.failing = False
    restarted.tick(clock.advance(seconds=1))

    assert caught.value.code == "driver_down"
    # The door is shut now: the opening cut short is undone (the code opens it again, and the
    # locker is reported occupied until then) rather than guessed finished.
    assert state_of(restarted, number) is LockerState.OCCUPIED
    restarted.retrieve(number, code)
