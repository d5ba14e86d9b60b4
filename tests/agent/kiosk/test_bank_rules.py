"""The bank's rules (agent/kiosk/bank.py) on a clock the test moves: guessing codes pauses a
locker then the keypad, the longest charge, phones forgotten at closing time, doors that are not
where they should be, and staff who open lockers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kiosk_testkit import Clock

from agent.kiosk.bank import Bank, BankConfig, KioskError
from agent.kiosk.codes import MIN_PIN_ITERATIONS, hash_staff_pin
from agent.kiosk.drivers import SimulatedBank
from agent.protocol import (
    ChargingEnd,
    ChargingSession,
    DoorState,
    LockerIncident,
    LockerIncidentKind,
    LockerState,
    StaffOpening,
)

PINS = {"alice": hash_staff_pin("4821", iterations=MIN_PIN_ITERATIONS)}


def deposit(bank: Bank, lockers: SimulatedBank) -> tuple[int, str]:
    """A resident leaves a phone: the locker's number and its code."""
    number = bank.choose()
    lockers.shut(number)
    return number, bank.deposit_done(number)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def refused(call: Callable[[], Any]) -> KioskError:
    with pytest.raises(KioskError) as caught:
        call()
    return caught.value


def state_of(bank: Bank, number: int) -> LockerState:
    return next(view.state for view in bank.lockers() if view.number == number)


def incidents(spooled: Callable[..., list[Any]]) -> list[tuple[str, int | None, bool]]:
    return [(i.kind.value, i.locker, i.resolved) for i in spooled(LockerIncident)]


# -- guessing codes ------------------------------------------------------------------------------


def test_five_wrong_codes_pause_the_locker_longer_each_time(
    bank: Bank, lockers: SimulatedBank, clock: Clock, spooled: Callable[..., list[Any]]
) -> None:
    number, code = deposit(bank, lockers)

    left = [refused(lambda: bank.retrieve(number, wrong(code))) for _ in range(4)]
    fifth = refused(lambda: bank.retrieve(number, wrong(code)))
    during = refused(lambda: bank.retrieve(number, code))

    assert [(e.code, e.attempts_left) for e in left] == [("wrong_code", n) for n in (4, 3, 2, 1)]
    assert (fifth.code, fifth.retry_after_s) == ("locker_paused", 60)
    assert (during.code, during.retry_after_s) == ("locker_paused", 60), "even the right code"
    assert lockers.door(number) is DoorState.CLOSED
    assert incidents(spooled) == [("keypad_paused", number, False)]
    clock.advance(seconds=60)
    for _ in range(5):
        last = refused(lambda: bank.retrieve(number, wrong(code)))
    assert (last.code, last.retry_after_s) == ("locker_paused", 120)
    clock.advance(seconds=120)
    bank.retrieve(number, code)
    assert lockers.door(number) is DoorState.OPEN
    assert incidents(spooled)[-1] == ("keypad_paused", number, True)


def test_a_restart_does_not_reset_the_wrong_codes(
    bank: Bank, make_bank: Callable[..., Bank], lockers: SimulatedBank
) -> None:
    number, code = deposit(bank, lockers)
    for _ in range(4):
        refused(lambda: bank.retrieve(number, wrong(code)))

    restarted = make_bank()

    assert refused(lambda: restarted.retrieve(number, wrong(code))).code == "locker_paused"


def test_wrong_codes_on_three_lockers_within_ten_minutes_pause_the_whole_keypad(
    bank: Bank, lockers: SimulatedBank, clock: Clock, spooled: Callable[..., list[Any]]
) -> None:
    phones = [deposit(bank, lockers) for _ in range(4)]
    (one, code_one), (two, code_two), (three, code_three), (four, code_four) = phones

    refused(lambda: bank.retrieve(one, wrong(code_one)))
    clock.advance(minutes=4)
    refused(lambda: bank.retrieve(two, wrong(code_two)))
    clock.advance(minutes=4)
    third = refused(lambda: bank.retrieve(three, wrong(code_three)))
    meanwhile = refused(lambda: bank.retrieve(four, code_four))

    assert (third.code, third.retry_after_s) == ("keypad_paused", 300)
    assert (meanwhile.code, meanwhile.retry_after_s) == ("keypad_paused", 300)
    assert bank.status().keypad_paused_until == clock.now + timedelta(minutes=5)
    assert ("keypad_paused", None, False) in incidents(spooled)
    clock.advance(minutes=5)
    bank.tick(clock.now)
    assert bank.status().keypad_paused_until is None
    assert incidents(spooled)[-1] == ("keypad_paused", None, True)
    bank.retrieve(four, code_four)
    assert lockers.door(four) is DoorState.OPEN
    # A second pause the same day lasts twice as long.
    for number, code in ((one, code_one), (two, code_two)):
        refused(lambda n=number, c=code: bank.retrieve(n, wrong(c)))
    again = refused(lambda: bank.retrieve(three, wrong(code_three)))
    assert (again.code, again.retry_after_s) == ("keypad_paused", 600)


def test_wrong_codes_spread_over_more_than_ten_minutes_leave_the_keypad_alone(
    bank: Bank, lockers: SimulatedBank, clock: Clock
) -> None:
    phones = [deposit(bank, lockers) for _ in range(3)]

    errors = []
    for number, code in phones:
        errors.append(refused(lambda n=number, c=code: bank.retrieve(n, wrong(c))))
        clock.advance(minutes=6)

    assert [error.code for error in errors] == ["wrong_code"] * 3
    bank.retrieve(*phones[0])


# -- staff -----------------------------------------------------------------------------------------


def test_staff_open_a_locker_with_their_pin_and_the_opening_is_reported(
    make_bank: Callable[..., Bank], lockers: SimulatedBank, spooled: Callable[..., list[Any]]
) -> None:
    bank = make_bank(config=BankConfig(staff_pins=PINS))
    number, code = deposit(bank, lockers)

    bank.staff_open("alice", "4821", number, "  the owner lost the code  ")

    assert lockers.door(number) is DoorState.OPEN
    assert state_of(bank, number) is LockerState.FREE
    [opening] = spooled(StaffOpening)
    assert (opening.locker, opening.staff, opening.reason, opening.remote) == (
        number,
        "alice",
        "the owner lost the code",
        False,
    )
    [session] = spooled(ChargingSession)
    assert session.ended_by is ChargingEnd.STAFF
    assert refused(lambda: bank.retrieve(number, code)).code == "not_occupied"


def test_wrong_pins_open_nothing_and_five_pause_the_keypad(
    make_bank: Callable[..., Bank], lockers: SimulatedBank, spooled: Callable[..., list[Any]]
) -> None:
    bank = make_bank(config=BankConfig(staff_pins=PINS))
    number, _ = deposit(bank, lockers)

    unknown = refused(lambda: bank.staff_open("mallory", "4821", number, "curious"))
    no_reason = refused(lambda: bank.staff_open("alice", "4821", number, "   "))
    wrong_pins = [refused(lambda: bank.staff_open("alice", "0000", number, "x")) for _ in range(4)]

    assert unknown.code == "bad_pin" and no_reason.code == "missing"
    assert [error.code for error in wrong_pins[:3]] == ["bad_pin"] * 3
    assert wrong_pins[3].code == "keypad_paused"
    assert refused(lambda: bank.staff_open("alice", "4821", number, "x")).code == "keypad_paused"
    assert lockers.door(number) is DoorState.CLOSED
    assert spooled(StaffOpening) == []


def test_a_remote_opening_says_what_happened(
    bank: Bank, lockers: SimulatedBank, spooled: Callable[..., list[Any]]
) -> None:
    number, _ = deposit(bank, lockers)

    occupied = bank.remote_open("bob", number, "forgotten phone")
    empty = bank.remote_open("bob", 5, "jammed door")

    assert occupied == (
        f"locker {number} opened; the phone left at 2025-03-04 09:00 UTC is handed over and its "
        "code no longer opens it"
    )
    assert empty == "locker 5 opened (it was free: no phone was deposited)"
    assert [(o.locker, o.staff, o.remote) for o in spooled(StaffOpening)] == [
        (number, "bob", True),
        (5, "bob", True),
    ]
    [session] = spooled(ChargingSession)
    assert session.ended_by is ChargingEnd.REMOTE
    assert lockers.door(5) is DoorState.OPEN


# -- time ------------------------------------------------------------------------------------------


def test_past_the_longest_charge_only_staff_open_it(
    make_bank: Callable[..., Bank],
    lockers: SimulatedBank,
    clock: Clock,
    spooled: Callable[..., list[Any]],
) -> None:
    bank = make_bank(config=BankConfig(max_charge_min=180, staff_pins=PINS))
    number, code = deposit(bank, lockers)

    bank.tick(clock.advance(minutes=179))
    assert state_of(bank, number) is LockerState.OCCUPIED
    bank.tick(clock.advance(minutes=1))

    assert state_of(bank, number) is LockerState.OVERTIME
    assert refused(lambda: bank.retrieve(number, code)).code == "overtime"
    assert lockers.door(number) is DoorState.CLOSED
    [raised] = spooled(LockerIncident)
    assert (raised.kind, raised.locker) == (LockerIncidentKind.OVERTIME, number)
    assert "more than 180 min" in raised.message
    bank.tick(clock.advance(minutes=30))
    assert len(spooled(LockerIncident)) == 1
    bank.staff_open("alice", "4821", number, "overtime")
    assert incidents(spooled)[-1] == ("overtime", number, True)
    [session] = spooled(ChargingSession)
    assert (session.ended_at - session.started_at).total_seconds() == 210 * 60


def test_a_phone_still_there_at_closing_time_is_reported_with_the_sites_procedure(
    make_bank: Callable[..., Bank],
    lockers: SimulatedBank,
    clock: Clock,
    spooled: Callable[..., list[Any]],
) -> None:
    procedure = "Phones left are kept at the front desk for 3 days."
    bank = make_bank(
        config=BankConfig(
            max_charge_min=24 * 60,
            opening_hours="Mo-Sa 09:00-18:00; PH off",
            timezone="Europe/Paris",
            forgotten_text=procedure,
        )
    )
    clock.now = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)  # 16:30 in Grenoble
    number, code = deposit(bank, lockers)
    other, other_code = deposit(bank, lockers)

    bank.tick(clock.advance(minutes=89))  # 17:59
    assert spooled(LockerIncident) == []
    bank.retrieve(other, other_code)
    lockers.shut(other)
    bank.tick(clock.advance(minutes=2))  # 18:01, closed

    [forgotten] = spooled(LockerIncident)
    assert (forgotten.kind, forgotten.locker) == (LockerIncidentKind.FORGOTTEN, number)
    assert forgotten.message.endswith(procedure)
    bank.tick(clock.advance(hours=12))
    assert len(spooled(LockerIncident)) == 1
    bank.tick(clock.advance(hours=2))  # next morning, 09:01: the owner comes back
    bank.retrieve(number, code)
    assert incidents(spooled)[-1] == ("forgotten", number, True)


def test_a_site_that_never_closes_forgets_no_phone(
    bank: Bank, lockers: SimulatedBank, clock: Clock, spooled: Callable[..., list[Any]]
) -> None:
    deposit(bank, lockers)

    bank.tick(clock.advance(hours=2))

    assert spooled(LockerIncident) == []


# -- doors ---------------------------------------------------------------------------------------


def test_a_door_found_open_on_a_phone_is_an_incident_until_it_is_shut(
    bank: Bank, lockers: SimulatedBank, clock: Clock, spooled: Callable[..., list[Any]]
) -> None:
    number, code = deposit(bank, lockers)
    lockers.unlock(number)  # a lock that gave way

    bank.tick(clock.advance(seconds=1))
    bank.tick(clock.advance(seconds=1))

    assert incidents(spooled) == [("door_open", number, False)]
    lockers.shut(number)
    bank.tick(clock.advance(seconds=1))
    assert incidents(spooled) == [("door_open", number, False), ("door_open", number, True)]
    assert state_of(bank, number) is LockerState.OCCUPIED
    bank.retrieve(number, code)


def test_a_locker_shut_without_a_deposit_goes_back_to_free_after_two_minutes(
    bank: Bank, lockers: SimulatedBank, clock: Clock, spooled: Callable[..., list[Any]]
) -> None:
    number = bank.choose()
    bank.tick(clock.advance(minutes=10))
    assert state_of(bank, number) is LockerState.DEPOSIT, "no hurry while the door is open"
    lockers.shut(number)
    bank.tick(clock.advance(seconds=1))

    bank.tick(clock.advance(seconds=119))
    assert state_of(bank, number) is LockerState.DEPOSIT
    bank.tick(clock.advance(seconds=1))

    assert state_of(bank, number) is LockerState.FREE
    assert incidents(spooled) == [("door_shut_empty", number, False)]
    [session] = spooled(ChargingSession)
    assert session.ended_by is ChargingEnd.ABANDONED
    assert refused(lambda: bank.deposit_done(number)).code == "not_waiting"
    bank.remote_open("carol", number, "check it is empty")
    assert incidents(spooled)[-1] == ("door_shut_empty", number, True)


def test_a_free_locker_whose_door_stays_open_is_out_of_order_until_shut(
    bank: Bank, lockers: SimulatedBank, clock: Clock, spooled: Callable[..., list[Any]]
) -> None:
    number, code = deposit(bank, lockers)
    bank.retrieve(number, code)  # the door is left open

    bank.tick(clock.advance(seconds=119))
    assert state_of(bank, number) is LockerState.FREE
    bank.tick(clock.advance(seconds=1))

    assert state_of(bank, number) is LockerState.OUT_OF_ORDER
    assert incidents(spooled) == [("door_open", number, False)]
    assert number not in [view.number for view in bank.lockers() if view.free]
    assert bank.choose() != number
    lockers.shut(number)
    bank.tick(clock.advance(seconds=1))
    assert state_of(bank, number) is LockerState.FREE
    assert incidents(spooled)[-1] == ("door_open", number, True)
