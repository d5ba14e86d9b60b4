"""The bank's flow (agent/kiosk/bank.py) over the simulated lockers: leave a phone, get a code,
take it back; and what stops an operation without opening anything."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from kiosk_testkit import Clock

from agent.kiosk.bank import Bank, BankConfig, KioskError, KioskErrorCode
from agent.kiosk.drivers import SimulatedBank
from agent.kiosk.store import STORE_FILE
from agent.protocol import (
    ChargingEnd,
    ChargingSession,
    DoorState,
    LockerIncident,
    LockerIncidentKind,
    LockersReport,
    LockerState,
)
from agent.spool import Spool


def state_of(bank: Bank, number: int) -> LockerState:
    return next(view.state for view in bank.lockers() if view.number == number)


def refused(call: Callable[[], Any]) -> KioskError:
    with pytest.raises(KioskError) as caught:
        call()
    return caught.value


def test_a_phone_goes_in_with_a_code_and_comes_back_out_with_it(
    bank: Bank, lockers: SimulatedBank, clock: Clock, spooled: Callable[..., list[Any]]
) -> None:
    number = bank.choose()

    assert lockers.door(number) is DoorState.OPEN
    assert state_of(bank, number) is LockerState.DEPOSIT
    lockers.shut(number)
    code = bank.deposit_done(number)

    assert len(code) == 6 and code.isdigit()
    assert state_of(bank, number) is LockerState.OCCUPIED
    assert not lockers.pull_open(number), "an occupied locker is latched"
    clock.advance(minutes=45)
    bank.retrieve(number, code)

    assert lockers.door(number) is DoorState.OPEN
    assert state_of(bank, number) is LockerState.FREE
    [session] = spooled(ChargingSession)
    assert (session.locker, session.ended_by) == (number, ChargingEnd.CODE)
    assert (session.ended_at - session.started_at).total_seconds() == 45 * 60
    lockers.shut(number)
    assert not lockers.pull_open(number), "shut again, it latches again"


def test_the_code_is_on_disk_only_as_a_salted_hash(bank: Bank, lockers: SimulatedBank) -> None:
    number = bank.choose()
    lockers.shut(number)

    code = bank.deposit_done(number)

    on_disk = b"".join(path.read_bytes() for path in bank.store.path.parent.glob(f"{STORE_FILE}*"))
    assert code.encode() not in on_disk
    record = bank.store.locker(number)
    assert record is not None and record.code_hash is not None
    assert record.code_hash.startswith("scrypt$")


def test_the_locker_free_for_longest_is_chosen_first(
    bank: Bank, lockers: SimulatedBank, clock: Clock
) -> None:
    first = bank.choose()
    clock.advance(seconds=5)
    lockers.shut(first)
    bank.cancel_deposit(first)

    second = bank.choose()

    assert first == 1 and second == 2


def test_a_second_code_shown_for_a_locker_is_refused(bank: Bank, lockers: SimulatedBank) -> None:
    number = bank.choose()
    lockers.shut(number)
    bank.deposit_done(number)

    error = refused(lambda: bank.deposit_done(number))

    assert error.code is KioskErrorCode.NOT_WAITING


def test_done_with_the_door_open_gives_no_code(bank: Bank, lockers: SimulatedBank) -> None:
    number = bank.choose()

    error = refused(lambda: bank.deposit_done(number))

    assert error.code == "door_open"
    assert state_of(bank, number) is LockerState.DEPOSIT
    lockers.shut(number)
    assert bank.deposit_done(number)


def test_a_resident_who_changes_their_mind_frees_the_locker(
    bank: Bank, lockers: SimulatedBank, spooled: Callable[..., list[Any]]
) -> None:
    number = bank.choose()
    assert refused(lambda: bank.cancel_deposit(number)).code == "door_open"
    lockers.shut(number)

    bank.cancel_deposit(number)

    assert state_of(bank, number) is LockerState.FREE
    assert not lockers.pull_open(number)
    [session] = spooled(ChargingSession)
    assert session.ended_by is ChargingEnd.ABANDONED


def test_when_every_locker_holds_a_phone_none_is_free(
    make_bank: Callable[..., Bank],
) -> None:
    small = SimulatedBank(2)
    bank = make_bank(small)
    for _ in range(2):
        number = bank.choose()
        small.shut(number)
        bank.deposit_done(number)

    assert refused(bank.choose).code == "no_free_locker"
    assert [view.free for view in bank.lockers()] == [False, False]


def test_bad_input_opens_nothing(bank: Bank, lockers: SimulatedBank) -> None:
    number = bank.choose()
    lockers.shut(number)
    bank.deposit_done(number)

    assert refused(lambda: bank.retrieve(number, "12345")).code == "bad_code"
    assert refused(lambda: bank.retrieve(number, "١٢٣٤٥٦")).code == "bad_code"
    assert refused(lambda: bank.retrieve(number, "12 3456")).code == "bad_code"
    assert refused(lambda: bank.retrieve(0, "123456")).code == "no_such_locker"
    assert refused(lambda: bank.retrieve(9, "123456")).code == "no_such_locker"
    assert refused(lambda: bank.retrieve(2, "123456")).code == "not_occupied"
    assert refused(lambda: bank.deposit_done(99)).code == "no_such_locker"
    assert refused(lambda: bank.remote_open("alice", 65, "jam")).code == "no_such_locker"
    assert [lockers.door(n) for n in range(1, 9)] == [DoorState.CLOSED] * 8
    record = bank.store.locker(number)
    assert record is not None and record.wrong_codes == 0, "a malformed code is not a guess"


def test_a_double_tap_while_a_door_moves_is_busy(
    make_bank: Callable[..., Bank], lockers: SimulatedBank
) -> None:
    class SlowLockers:
        """The board takes its time to release a lock; the test says when it is done."""

        count = lockers.count

        def __init__(self) -> None:
            self.unlocking = threading.Event()
            self.release = threading.Event()

        def unlock(self, number: int) -> None:
            self.unlocking.set()
            assert self.release.wait(10)
            lockers.unlock(number)

        def lock(self, number: int) -> None:
            lockers.lock(number)

        def door(self, number: int) -> DoorState:
            return lockers.door(number)

        def close(self) -> None:
            lockers.close()

    slow = SlowLockers()
    bank = make_bank(slow)
    slow.release.set()
    number = bank.choose()
    lockers.shut(number)
    code = bank.deposit_done(number)
    slow.release.clear()
    slow.unlocking.clear()
    first = threading.Thread(target=bank.retrieve, args=(number, code))
    first.start()
    assert slow.unlocking.wait(10)

    second = refused(lambda: bank.retrieve(number, code))

    slow.release.set()
    first.join(10)
    assert second.code == "busy"
    assert state_of(bank, number) is LockerState.FREE
    assert lockers.door(number) is DoorState.OPEN


def test_a_driver_that_does_not_answer_opens_nothing_and_says_so(
    bank: Bank,
    lockers: SimulatedBank,
    clock: Clock,
    spooled: Callable[..., list[Any]],
) -> None:
    number = bank.choose()
    lockers.shut(number)
    code = bank.deposit_done(number)
    lockers.failing = True

    choose = refused(bank.choose)
    retrieve = refused(lambda: bank.retrieve(number, code))

    assert choose.code == retrieve.code == "driver_down"
    assert "does not answer" in retrieve.detail
    assert [state_of(bank, n) for n in (1, 2)] == [LockerState.OCCUPIED, LockerState.FREE]
    assert not bank.status().driver_ok
    assert not any(view.free for view in bank.lockers())
    [incident] = spooled(LockerIncident)
    assert incident.kind is LockerIncidentKind.DRIVER_DOWN and not incident.resolved
    bank.tick(clock.advance(seconds=1))
    assert len(spooled(LockerIncident)) == 1, "raised once, not at every tick"

    lockers.failing = False
    bank.tick(clock.advance(seconds=1))
    bank.retrieve(number, code)

    assert bank.status().driver_ok
    assert [(i.kind, i.resolved) for i in spooled(LockerIncident)][-1] == (
        LockerIncidentKind.DRIVER_DOWN,
        True,
    )
    assert lockers.door(number) is DoorState.OPEN
    reports = spooled(LockersReport)
    assert any(not report.driver_ok for report in reports) and reports[-1].driver_ok


def test_out_of_service_takes_no_phone_but_gives_them_back(
    bank: Bank, lockers: SimulatedBank
) -> None:
    number = bank.choose()
    lockers.shut(number)
    code = bank.deposit_done(number)

    bank.configure(BankConfig(out_of_service=True, help_text="Ask at the front desk"))

    assert refused(bank.choose).code == "out_of_service"
    bank.retrieve(number, code)
    assert lockers.door(number) is DoorState.OPEN
    status = bank.status()
    assert status.out_of_service and status.help_text == "Ask at the front desk"


def test_every_change_is_reported_and_nothing_about_who(
    bank: Bank,
    lockers: SimulatedBank,
    clock: Clock,
    spool: Spool,
    spooled: Callable[..., list[Any]],
) -> None:
    number = bank.choose()
    lockers.shut(number)
    code = bank.deposit_done(number)
    bank.retrieve(number, code)

    states = [
        next(locker.state for locker in report.lockers if locker.number == number)
        for report in spooled(LockersReport)
    ]
    assert states == [
        LockerState.FREE,
        LockerState.DEPOSIT,
        LockerState.OCCUPIED,
        LockerState.FREE,
    ]
    assert code not in repr(spool.pending_batch())
    count = len(spooled(LockersReport))
    bank.tick(clock.advance(seconds=1))
    assert len(spooled(LockersReport)) == count, "nothing changed, nothing reported"
    bank.tick(clock.advance(seconds=10))
    assert len(spooled(LockersReport)) == count + 1, "but reported every report_every"
