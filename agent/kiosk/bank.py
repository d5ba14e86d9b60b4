"""The kiosk's bank of lockers: every rule and every state, over a driver and a durable store.

The touch page (:mod:`agent.kiosk.web`) and the role (:mod:`agent.kiosk`) call :class:`Bank`;
the bank decides, writes its decision to the store (:mod:`agent.kiosk.store`), then moves a door
through the driver (:mod:`agent.kiosk.drivers`). What it promises, and how:

* **Nobody loses a phone, even at a power cut.** A state is on disk (fsync) before the door
  command that depends on it and before a code is shown. An opening (with a code, or by
  staff) is written first as *pending* (:class:`~agent.kiosk.store.Opening`), then the door is
  released, then the locker is freed and the opening reported. At the next start
  (:meth:`Bank._recover`) a pending opening is finished if the door sensor says the door
  opened, and undone if it is shut (the phone is inside, its code opens it again). A locker
  left waiting for a deposit with its door shut goes back to free: no code was shown, so
  nobody counts on it — staff are told to look inside (``door_shut_empty``); with its door
  open it keeps waiting (the resident may still tap Done) and staff are told
  (``door_open``). Every lock is engaged again at start (a lock released just before the
  power cut must not stay released).
* **A locker moves only through these states** (:class:`~agent.protocol.LockerState`):
  ``free → deposit`` (:meth:`Bank.choose` opens it) ``→ occupied`` (:meth:`Bank.deposit_done`,
  the door shut, a code) ``→ free`` (:meth:`Bank.retrieve` with the code, or staff);
  ``deposit → free`` (:meth:`Bank.cancel_deposit`, or its door shut for :data:`DOOR_GRACE`
  without "Done"); ``occupied → overtime`` past the site's longest charge, after which only
  staff open it; ``free → out_of_order`` when its door stays open, back to free once shut.
* **Guessing codes does not pay.** :data:`WRONG_CODES_BEFORE_PAUSE` wrong codes in a row pause
  that locker, for 1, 2, 4, 8 … minutes (at most :data:`LOCKER_PAUSE_MAX`); wrong codes on
  :data:`KEYPAD_LOCKERS` different lockers, or :data:`WRONG_PINS_BEFORE_PAUSE` wrong staff
  PINs, within :data:`KEYPAD_WINDOW` pause the whole keypad (5, 10, 20 … minutes, at most
  :data:`KEYPAD_PAUSE_MAX`). Counters are on disk: restarting the kiosk does not reset them.
  A code is checked against its salted hash in constant time (:mod:`agent.kiosk.codes`).
* **A driver that does not answer opens nothing.** :class:`DriverError` becomes
  ``KioskError("driver_down")``; whatever was written for the operation is put back as it
  was; a ``driver_down`` incident tells staff; the page says where to ask (``help_text``).
* **A double tap does one thing.** Each locker has its own lock, taken without waiting: a
  second operation on a locker whose door is moving is ``busy``.
* **Staff see what they must act on**, as :class:`~agent.protocol.LockerIncident` events raised
  and resolved (overtime, a phone forgotten at closing time with the site's procedure, a door
  open when it should be shut, shut on a locker waiting for a phone, the driver down, the
  keypad paused), :class:`~agent.protocol.ChargingSession` when a stay ends and
  :class:`~agent.protocol.StaffOpening` when staff open a locker; a
  :class:`~agent.protocol.LockersReport` at every change and every ``report_every``. Never a
  code, never anything about a resident.

:meth:`Bank.tick`, called every second, applies the rules that depend on time and on the door
sensors. Every moment is timezone-aware UTC; the clock is injected (tests move it).
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

import msgspec

from agent.kiosk.codes import BadHash, check_code, check_staff_pin, hash_code, is_code, new_code
from agent.kiosk.drivers.base import DriverError, LockerDriver
from agent.kiosk.hours import SiteHours
from agent.kiosk.store import (
    UNNUMBERED,
    WHOLE_KIOSK,
    Change,
    KeypadRecord,
    LockerRecord,
    Opening,
    OutboxEvent,
    Store,
)
from agent.protocol import (
    AgentEvent,
    ChargingEnd,
    ChargingSession,
    DoorState,
    Locker,
    LockerIncidentKind,
    LockersReport,
    LockerState,
    StaffOpening,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_MAX_CHARGE_MIN = 180
WRONG_CODES_BEFORE_PAUSE = 5
LOCKER_PAUSE_FIRST = timedelta(minutes=1)
# A locker's owner who forgot the code waits at most this long between tries (or asks staff).
LOCKER_PAUSE_MAX = timedelta(minutes=64)
KEYPAD_WINDOW = timedelta(minutes=10)
KEYPAD_LOCKERS = 3
WRONG_PINS_BEFORE_PAUSE = 5
KEYPAD_PAUSE_FIRST = timedelta(minutes=5)
KEYPAD_PAUSE_MAX = timedelta(minutes=60)
# The keypad's pauses of the last day each double the next one.
KEYPAD_PAUSES_REMEMBERED = timedelta(days=1)
# A door shut this long on a locker waiting for a phone (nobody tapped Done), or open this long
# on a free locker, is an incident.
DOOR_GRACE = timedelta(minutes=2)
# A lock released for a door that did not spring open is engaged again after this long (the
# resident had time to pull it).
RELOCK_AFTER = timedelta(seconds=10)
HOLDS_A_PHONE = frozenset({LockerState.OCCUPIED, LockerState.OVERTIME})


class KioskErrorCode(enum.StrEnum):
    """Why an operation did nothing; the page says each in words (it translates by code)."""

    NO_FREE_LOCKER = "no_free_locker"
    DOOR_OPEN = "door_open"
    WRONG_CODE = "wrong_code"
    LOCKER_PAUSED = "locker_paused"
    KEYPAD_PAUSED = "keypad_paused"
    BAD_CODE = "bad_code"
    NO_SUCH_LOCKER = "no_such_locker"
    NOT_OCCUPIED = "not_occupied"
    NOT_WAITING = "not_waiting"
    OVERTIME = "overtime"
    DRIVER_DOWN = "driver_down"
    OUT_OF_SERVICE = "out_of_service"
    BAD_PIN = "bad_pin"
    MISSING = "missing"
    BUSY = "busy"


# English msgids: the page shows its own translation of each code.
MESSAGES: dict[KioskErrorCode, str] = {
    KioskErrorCode.NO_FREE_LOCKER: "No locker is free right now.",
    KioskErrorCode.DOOR_OPEN: "The door is open: close it, then try again.",
    KioskErrorCode.WRONG_CODE: "This is not the code of this locker.",
    KioskErrorCode.LOCKER_PAUSED: "Too many wrong codes for this locker: wait, then try again.",
    KioskErrorCode.KEYPAD_PAUSED: "Too many wrong codes: the keypad is paused for a while.",
    KioskErrorCode.BAD_CODE: "A code has 6 digits.",
    KioskErrorCode.NO_SUCH_LOCKER: "There is no locker with this number.",
    KioskErrorCode.NOT_OCCUPIED: "This locker holds no phone.",
    KioskErrorCode.NOT_WAITING: "This locker is not waiting for a phone.",
    KioskErrorCode.OVERTIME: "This phone stayed too long: only staff can open the locker now.",
    KioskErrorCode.DRIVER_DOWN: "The lockers do not answer: nothing was opened.",
    KioskErrorCode.OUT_OF_SERVICE: "The kiosk is out of service.",
    KioskErrorCode.BAD_PIN: "Wrong username or PIN.",
    KioskErrorCode.MISSING: "Give your username, your PIN and why you open the locker.",
    KioskErrorCode.BUSY: "This locker is busy: wait a moment, then try again.",
}


class KioskError(Exception):
    """An operation refused; nothing was opened. ``code`` says why (:class:`KioskErrorCode`),
    ``message`` in English; a pause says how long it lasts (``retry_after_s``), a wrong code how
    many tries are left before the locker pauses (``attempts_left``). ``detail`` is for staff
    and logs (a driver's message), never shown to residents."""

    def __init__(
        self,
        code: KioskErrorCode,
        *,
        retry_after_s: int | None = None,
        attempts_left: int | None = None,
        detail: str = "",
    ) -> None:
        self.code = code
        self.message = MESSAGES[code]
        self.retry_after_s = retry_after_s
        self.attempts_left = attempts_left
        self.detail = detail
        super().__init__(f"{code.value}: {self.message}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class LockerView:
    """One locker as the page shows it: ``free`` if it may be chosen now."""

    number: int
    state: LockerState
    door: DoorState
    free: bool


@dataclass(frozen=True)
class BankStatus:
    driver_ok: bool
    driver_message: str
    out_of_service: bool
    keypad_paused_until: datetime | None
    help_text: str  # where to ask, shown with every problem
    forgotten_text: str  # what happens to a phone left at closing time
    language: str  # the site's: where the page starts


@dataclass(frozen=True)
class BankConfig:
    """The site's rules, from the controller's ``kiosk_*`` settings (``update_config``)."""

    max_charge_min: int = DEFAULT_MAX_CHARGE_MIN
    help_text: str = ""
    forgotten_text: str = ""
    opening_hours: str = ""  # OSM syntax; "" never closes
    timezone: str = "Europe/Paris"
    country: str = "FR"
    language: str = "fr"
    staff_pins: Mapping[str, str] = field(default_factory=dict)  # username -> pbkdf2 hash
    out_of_service: bool = False

    def __post_init__(self) -> None:
        if self.max_charge_min < 1:
            raise ValueError(f"kiosk_max_charge_min must be positive, got {self.max_charge_min}")


class EventSink(Protocol):
    """Where events go (the agent's :class:`~agent.spool.Spool`)."""

    def append(self, build: Callable[[int], AgentEvent]) -> AgentEvent: ...


class Bank:
    """The lockers of one kiosk. Thread-safe: the page's threads, the tick and the commands
    call it at once."""

    def __init__(
        self,
        driver: LockerDriver,
        store: Store,
        *,
        events: EventSink,
        config: BankConfig | None = None,
        on_event: Callable[[], None] = lambda: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        report_every: timedelta = timedelta(seconds=10),
    ) -> None:
        self.driver = driver
        self.store = store
        self.events = events
        self.on_event = on_event
        self.report_every = report_every
        self._now = now
        self._config = config or BankConfig()
        self._hours = SiteHours(
            self._config.opening_hours, self._config.timezone, self._config.country
        )
        self.count = driver.count
        self._numbers = range(1, self.count + 1)
        # The bank's memory and its read-modify-writes of what several lockers share (the
        # keypad, the driver's health); never held while a door moves.
        self._lock = threading.RLock()
        self._driver_lock = threading.Lock()  # one call at a time on the board's line
        self._deliver_lock = threading.Lock()
        self._busy = {number: threading.Lock() for number in self._numbers}
        self._doors = dict.fromkeys(self._numbers, DoorState.UNKNOWN)
        self._door_since: dict[int, datetime] = {}  # since when each door reads as it does
        self._unlocked: dict[int, datetime] = {}  # locks released and not yet engaged again
        self._driver_ok = True
        self._driver_message = ""
        self._recovered = False
        self._reported: object = None
        self._reported_at: datetime | None = None
        start = now()
        store.ensure_lockers(self.count, start)
        with self._lock:
            self._recover(start)
        self._after(start)

    # -- what the page reads ---------------------------------------------------------------------

    def lockers(self) -> list[LockerView]:
        records = self.store.lockers()
        views = []
        for number in self._numbers:
            record = records[number]
            door = self._doors[number]
            free = record.state is LockerState.FREE and door is not DoorState.OPEN
            views.append(LockerView(number, record.state, door, free and self._driver_ok))
        return views

    def status(self) -> BankStatus:
        config = self._config
        paused_until = self.store.keypad().paused_until
        if paused_until is not None and paused_until <= self._now():
            paused_until = None
        return BankStatus(
            driver_ok=self._driver_ok,
            driver_message=self._driver_message,
            out_of_service=config.out_of_service,
            keypad_paused_until=paused_until,
            help_text=config.help_text,
            forgotten_text=config.forgotten_text,
            language=config.language,
        )

    @property
    def config(self) -> BankConfig:
        return self._config

    def configure(self, config: BankConfig) -> None:
        """Apply the site's rules from now on; :class:`ValueError` if its opening hours or time
        zone do not parse (the role screens them first)."""
        hours = SiteHours(config.opening_hours, config.timezone, config.country)
        with self._lock:
            self._config, self._hours = config, hours

    # -- a resident leaves a phone ---------------------------------------------------------------

    def choose(self) -> int:
        """Open a free locker for a deposit and return its number; its state is on disk first.

        The locker free for the longest is chosen, so the lockers wear evenly.
        """
        now = self._now()
        try:
            self._ready(now)
            if self._config.out_of_service:
                raise KioskError(KioskErrorCode.OUT_OF_SERVICE)
            records = self.store.lockers()
            candidates = sorted(
                (records[n] for n in self._numbers if records[n].state is LockerState.FREE),
                key=lambda record: (record.since, record.number),
            )
            for candidate in candidates:
                if self._doors[candidate.number] is DoorState.OPEN:
                    continue  # its door is open (just emptied, or stuck): not offered now
                busy = self._busy[candidate.number]
                if not busy.acquire(blocking=False):
                    continue
                try:
                    record = self.store.locker(candidate.number)
                    if record is None or record.state is not LockerState.FREE:
                        continue
                    with self.store.change() as change:
                        change.put(LockerRecord(record.number, LockerState.DEPOSIT, since=now))
                    try:
                        self._unlock(record.number, now)
                    except KioskError:
                        with self.store.change() as change:
                            change.put(record)  # nothing opened: as it was
                        raise
                    log.info("locker %d opened for a deposit", record.number)
                    return record.number
                finally:
                    busy.release()
            raise KioskError(KioskErrorCode.NO_FREE_LOCKER)
        finally:
            self._after(now)

    def deposit_done(self, number: int) -> str:
        """The resident shut the door on their phone: lock it, and return its new code — its
        salted hash is on disk before the code leaves this method. The door still open:
        ``door_open``."""
        with self._operation(number) as now:
            record = self._record(number)
            if record.state is not LockerState.DEPOSIT:
                raise KioskError(KioskErrorCode.NOT_WAITING)
            self._expect_shut(number, now)
            self._driver_call(self.driver.lock, number, now)
            self._unlocked.pop(number, None)
            code = new_code()
            with self.store.change() as change:
                change.put(
                    LockerRecord(
                        number,
                        LockerState.OCCUPIED,
                        since=now,
                        code_hash=hash_code(code),
                        started_at=now,
                    )
                )
                self._resolve_door_incidents(change, number, now)
            log.info("locker %d holds a phone", number)
            return code

    def cancel_deposit(self, number: int) -> None:
        """The resident changed their mind and shut the door on an empty locker: free again."""
        with self._operation(number) as now:
            record = self._record(number)
            if record.state is not LockerState.DEPOSIT:
                raise KioskError(KioskErrorCode.NOT_WAITING)
            self._expect_shut(number, now)
            self._driver_call(self.driver.lock, number, now)
            self._unlocked.pop(number, None)
            with self.store.change() as change:
                self._abandon(change, record, now)
                self._resolve_door_incidents(change, number, now)

    # -- a resident takes it back ----------------------------------------------------------------

    def retrieve(self, number: int, code: str) -> None:
        """The right code opens the locker and ends the phone's stay; a wrong one counts
        towards the pauses. Overtime: only staff open it (``overtime``), whatever the code."""
        self._check_number(number)
        if not is_code(code):
            raise KioskError(KioskErrorCode.BAD_CODE)
        with self._operation(number) as now:
            self._refuse_if_keypad_paused(now)
            record = self._record(number)
            if record.state is LockerState.OVERTIME:
                raise KioskError(KioskErrorCode.OVERTIME)
            if record.state is not LockerState.OCCUPIED or record.code_hash is None:
                raise KioskError(KioskErrorCode.NOT_OCCUPIED)
            if record.paused_until is not None and now < record.paused_until:
                raise KioskError(
                    KioskErrorCode.LOCKER_PAUSED, retry_after_s=_seconds(record.paused_until - now)
                )
            try:
                right = check_code(code, record.code_hash)
            except BadHash:
                log.error("locker %d: its code's hash is damaged; staff must open it", number)
                right = False
            if not right:
                self._wrong_code(record, now)
            self._open(record, Opening(ChargingEnd.CODE), now)
            log.info("locker %d opened with its code", number)

    # -- staff -----------------------------------------------------------------------------------

    def staff_open(self, username: str, pin: str, number: int, reason: str) -> None:
        """A member of staff opens any locker at the kiosk with their own PIN, saying why.

        A phone inside is handed over (its stay ends, ``ended_by`` staff); the opening is
        reported (:class:`~agent.protocol.StaffOpening`). Wrong PINs pause the keypad like
        wrong codes.
        """
        self._check_number(number)
        username, reason = username.strip(), reason.strip()
        if not username or not pin or not reason:
            raise KioskError(KioskErrorCode.MISSING)
        with self._operation(number) as now:
            self._refuse_if_keypad_paused(now)
            if not check_staff_pin(username, pin, self._config.staff_pins):
                self._wrong_pin(now)
            self._staff_open(number, username[:80], reason[:200], now, remote=False)

    def remote_open(self, staff: str, number: int, reason: str) -> str:
        """The controller's ``open_locker`` command: open ``number`` for ``staff``; what
        happened, in a line for the command's output."""
        with self._operation(number) as now:
            return self._staff_open(number, staff[:80], reason[:200], now, remote=True)

    # -- time and sensors ------------------------------------------------------------------------

    def tick(self, now: datetime) -> None:
        """Apply the rules that depend on time and on the doors; report what changed. Called
        every second; a locker in the middle of an operation is looked at next time."""
        try:
            with self._lock:
                if not self._recovered:
                    self._recover(now)
            if not self._recovered:
                return
            doors = self._read_doors(now)
            if doors is not None:
                self._relock(doors, now)
            incidents = self.store.incidents()
            for number, record in self.store.lockers().items():
                if number not in self._busy or not self._busy[number].acquire(blocking=False):
                    continue
                try:
                    self._look_at(record, doors, incidents, now)
                finally:
                    self._busy[number].release()
            self._end_keypad_pause(incidents, now)
        finally:
            self._after(now)

    # -- internals: operations -------------------------------------------------------------------

    @contextmanager
    def _operation(self, number: int) -> Iterator[datetime]:
        """One operation on locker ``number``: its number checked, the locker taken (or
        ``busy``), the bank ready; events and the report go out after, whatever happened."""
        self._check_number(number)
        busy = self._busy[number]
        if not busy.acquire(blocking=False):
            raise KioskError(KioskErrorCode.BUSY)
        now = self._now()
        try:
            self._ready(now)
            yield now
        finally:
            busy.release()
            self._after(now)

    def _check_number(self, number: int) -> None:
        if isinstance(number, bool) or not isinstance(number, int) or number not in self._busy:
            raise KioskError(KioskErrorCode.NO_SUCH_LOCKER)

    def _record(self, number: int) -> LockerRecord:
        record = self.store.locker(number)
        assert record is not None  # ensure_lockers made 1 … count
        return record

    def _ready(self, now: datetime) -> None:
        """The state after a restart is settled, or nothing may move (``driver_down``)."""
        if self._recovered:
            return
        with self._lock:
            self._recover(now)
        if not self._recovered:
            raise KioskError(KioskErrorCode.DRIVER_DOWN, detail=self._driver_message)

    def _expect_shut(self, number: int, now: datetime) -> None:
        door = self._driver_call(self.driver.door, number, now)
        self._see_door(number, door, now)
        if door is not DoorState.CLOSED:
            raise KioskError(KioskErrorCode.DOOR_OPEN)

    def _open(self, record: LockerRecord, opening: Opening, now: datetime) -> None:
        """Write the opening as pending, release the lock, then finish it; a driver that does
        not answer puts the record back as it was (nothing opened)."""
        pending = dataclasses.replace(record, opening=opening)
        with self.store.change() as change:
            change.put(pending)
        try:
            self._unlock(record.number, now)
        except KioskError:
            with self.store.change() as change:
                change.put(record)
            raise
        self._finish_opening(pending, now)

    def _finish_opening(self, pending: LockerRecord, now: datetime) -> None:
        """The door of a pending opening opened: a phone inside is handed over (its stay ends),
        staff's openings are reported, the locker's incidents are over."""
        opening = pending.opening
        assert opening is not None
        number = pending.number
        with self.store.change() as change:
            if pending.state in HOLDS_A_PHONE:
                change.put(LockerRecord(number, LockerState.FREE, since=now))
                change.event(
                    ChargingSession(
                        seq=UNNUMBERED,
                        at=now,
                        locker=number,
                        started_at=pending.started_at or pending.since,
                        ended_at=now,
                        ended_by=opening.by,
                    )
                )
                for kind in (
                    LockerIncidentKind.OVERTIME,
                    LockerIncidentKind.FORGOTTEN,
                    LockerIncidentKind.KEYPAD_PAUSED,
                ):
                    change.resolve_incident(kind, number, now, f"locker {number} opened")
            else:
                change.put(dataclasses.replace(pending, opening=None))
            if opening.by is not ChargingEnd.CODE:
                change.event(
                    StaffOpening(
                        seq=UNNUMBERED,
                        at=now,
                        locker=number,
                        staff=opening.staff,
                        reason=opening.reason,
                        remote=opening.by is ChargingEnd.REMOTE,
                    )
                )
            self._resolve_door_incidents(change, number, now)

    def _staff_open(
        self, number: int, staff: str, reason: str, now: datetime, *, remote: bool
    ) -> str:
        record = self._record(number)
        by = ChargingEnd.REMOTE if remote else ChargingEnd.STAFF
        self._open(record, Opening(by, staff, reason), now)
        log.info("locker %d opened by staff %s (%s)%s", number, staff, reason, " remotely" * remote)
        if record.state in HOLDS_A_PHONE:
            started = record.started_at or record.since
            return (
                f"locker {number} opened; the phone left at {started:%Y-%m-%d %H:%M} UTC is "
                "handed over and its code no longer opens it"
            )
        return f"locker {number} opened (it was {record.state.value}: no phone was deposited)"

    def _abandon(self, change: Change, record: LockerRecord, now: datetime) -> None:
        """A locker chosen for a deposit goes back to free without a phone (no code shown)."""
        change.put(LockerRecord(record.number, LockerState.FREE, since=now))
        change.event(
            ChargingSession(
                seq=UNNUMBERED,
                at=now,
                locker=record.number,
                started_at=record.since,
                ended_at=now,
                ended_by=ChargingEnd.ABANDONED,
            )
        )

    def _resolve_door_incidents(self, change: Change, number: int, now: datetime) -> None:
        for kind in (LockerIncidentKind.DOOR_OPEN, LockerIncidentKind.DOOR_SHUT_EMPTY):
            change.resolve_incident(kind, number, now, f"locker {number} used normally again")

    # -- internals: wrong codes ------------------------------------------------------------------

    def _refuse_if_keypad_paused(self, now: datetime) -> None:
        paused_until = self.store.keypad().paused_until
        if paused_until is not None and now < paused_until:
            raise KioskError(
                KioskErrorCode.KEYPAD_PAUSED, retry_after_s=_seconds(paused_until - now)
            )

    def _wrong_code(self, record: LockerRecord, now: datetime) -> None:
        """Count a wrong code on ``record``'s locker; raise what the resident is told."""
        number = record.number
        wrong = record.wrong_codes + 1
        pause = min(LOCKER_PAUSE_FIRST * (1 << min(record.pauses, 16)), LOCKER_PAUSE_MAX)
        with self._lock, self.store.change() as change:
            change.attempt(now, number)
            if wrong >= WRONG_CODES_BEFORE_PAUSE:
                change.put(
                    dataclasses.replace(
                        record, wrong_codes=0, pauses=record.pauses + 1, paused_until=now + pause
                    )
                )
                change.raise_incident(
                    LockerIncidentKind.KEYPAD_PAUSED,
                    number,
                    now,
                    f"locker {number}: {WRONG_CODES_BEFORE_PAUSE} wrong codes in a row; it takes "
                    f"no code for {_minutes(pause)} min (its owner may need staff)",
                )
            else:
                change.put(dataclasses.replace(record, wrong_codes=wrong))
            keypad_pause = self._pause_keypad_if_due(change, now)
        log.warning("locker %d: wrong code (%d in a row)", number, wrong)
        if keypad_pause is not None:
            raise KioskError(KioskErrorCode.KEYPAD_PAUSED, retry_after_s=_seconds(keypad_pause))
        if wrong >= WRONG_CODES_BEFORE_PAUSE:
            raise KioskError(KioskErrorCode.LOCKER_PAUSED, retry_after_s=_seconds(pause))
        raise KioskError(KioskErrorCode.WRONG_CODE, attempts_left=WRONG_CODES_BEFORE_PAUSE - wrong)

    def _wrong_pin(self, now: datetime) -> None:
        with self._lock, self.store.change() as change:
            change.attempt(now, WHOLE_KIOSK)
            keypad_pause = self._pause_keypad_if_due(change, now)
        log.warning("a wrong staff PIN at the kiosk")
        if keypad_pause is not None:
            raise KioskError(KioskErrorCode.KEYPAD_PAUSED, retry_after_s=_seconds(keypad_pause))
        raise KioskError(KioskErrorCode.BAD_PIN)

    def _pause_keypad_if_due(self, change: Change, now: datetime) -> timedelta | None:
        """Pause the whole keypad if the recent wrong codes say someone is guessing; how long."""
        attempts = change.attempts_since(now - KEYPAD_WINDOW)
        lockers = {locker for _, locker in attempts if locker != WHOLE_KIOSK}
        pins = sum(1 for _, locker in attempts if locker == WHOLE_KIOSK)
        if len(lockers) < KEYPAD_LOCKERS and pins < WRONG_PINS_BEFORE_PAUSE:
            return None
        keypad = change.keypad()
        recent = tuple(p for p in keypad.pauses if now - p < KEYPAD_PAUSES_REMEMBERED)
        pause = min(KEYPAD_PAUSE_FIRST * (1 << len(recent)), KEYPAD_PAUSE_MAX)
        change.put_keypad(KeypadRecord(paused_until=now + pause, pauses=(*recent, now)))
        change.forget_attempts()
        why = (
            f"wrong codes on {len(lockers)} lockers"
            if len(lockers) >= KEYPAD_LOCKERS
            else f"{pins} wrong staff PINs"
        )
        change.raise_incident(
            LockerIncidentKind.KEYPAD_PAUSED,
            None,
            now,
            f"{why} within {_minutes(KEYPAD_WINDOW)} min: the keypad is paused for "
            f"{_minutes(pause)} min (someone may be guessing codes)",
        )
        log.warning("keypad paused for %s: %s", pause, why)
        return pause

    def _end_keypad_pause(
        self, incidents: set[tuple[LockerIncidentKind, int | None]], now: datetime
    ) -> None:
        if (LockerIncidentKind.KEYPAD_PAUSED, None) not in incidents:
            return
        paused_until = self.store.keypad().paused_until
        if paused_until is None or paused_until <= now:
            with self.store.change() as change:
                change.resolve_incident(
                    LockerIncidentKind.KEYPAD_PAUSED, None, now, "the keypad takes codes again"
                )

    # -- internals: the driver -------------------------------------------------------------------

    def _driver_call(self, call: Callable[[int], _T], number: int, now: datetime) -> _T:
        try:
            with self._driver_lock:
                return call(number)
        except DriverError as exc:
            self._driver_failed(exc, now)
            self._doors[number] = DoorState.UNKNOWN
            raise KioskError(KioskErrorCode.DRIVER_DOWN, detail=str(exc)) from exc

    def _unlock(self, number: int, now: datetime) -> None:
        """Release the lock; engage it again at once if the door sprang open (it latches when
        shut), else leave it released a moment for a hand to pull (:data:`RELOCK_AFTER`)."""
        self._driver_call(self.driver.unlock, number, now)
        self._unlocked[number] = now
        try:
            with self._driver_lock:
                door = self.driver.door(number)
                self._see_door(number, door, now)
                if door is DoorState.OPEN:
                    self.driver.lock(number)
                    self._unlocked.pop(number, None)
        except DriverError as exc:  # it opened; the tick engages the lock again
            log.warning("locker %d: the door after opening could not be read: %s", number, exc)

    def _read_doors(self, now: datetime) -> dict[int, DoorState] | None:
        """Every door, or None when the driver does not answer (an incident says so)."""
        try:
            with self._driver_lock:
                doors = {number: self.driver.door(number) for number in self._numbers}
        except DriverError as exc:
            self._driver_failed(exc, now)
            for number in self._numbers:
                self._see_door(number, DoorState.UNKNOWN, now)
            return None
        for number, door in doors.items():
            self._see_door(number, door, now)
        if not self._driver_ok:
            with self._lock:
                self._driver_ok, self._driver_message = True, ""
            with self.store.change() as change:
                change.resolve_incident(
                    LockerIncidentKind.DRIVER_DOWN, None, now, "the lockers answer again"
                )
            log.info("the lockers answer again")
        return doors

    def _driver_failed(self, exc: DriverError, now: datetime) -> None:
        message = str(exc)[:200]
        with self._lock:
            was_ok, self._driver_ok, self._driver_message = self._driver_ok, False, message
        if was_ok:
            log.error("the lockers do not answer: %s", message)
        if (LockerIncidentKind.DRIVER_DOWN, None) not in self.store.incidents():
            with self.store.change() as change:
                change.raise_incident(LockerIncidentKind.DRIVER_DOWN, None, now, message)

    def _see_door(self, number: int, door: DoorState, now: datetime) -> None:
        if self._doors.get(number) is not door or number not in self._door_since:
            self._door_since[number] = now
        self._doors[number] = door

    def _relock(self, doors: dict[int, DoorState], now: datetime) -> None:
        for number, released_at in list(self._unlocked.items()):
            if doors[number] is DoorState.OPEN or now - released_at >= RELOCK_AFTER:
                try:
                    with self._driver_lock:
                        self.driver.lock(number)
                except DriverError as exc:
                    self._driver_failed(exc, now)
                    return
                self._unlocked.pop(number, None)

    # -- internals: the rules of time and doors --------------------------------------------------

    def _look_at(
        self,
        record: LockerRecord,
        doors: dict[int, DoorState] | None,
        incidents: set[tuple[LockerIncidentKind, int | None]],
        now: datetime,
    ) -> None:
        number, state, config = record.number, record.state, self._config
        if record.opening is not None:
            return  # an operation's, or a restart's to settle
        max_charge = timedelta(minutes=config.max_charge_min)
        started = record.started_at
        if state is LockerState.OCCUPIED and started is not None and now - started >= max_charge:
            with self.store.change() as change:
                change.put(dataclasses.replace(record, state=LockerState.OVERTIME, since=now))
                change.raise_incident(
                    LockerIncidentKind.OVERTIME,
                    number,
                    now,
                    f"locker {number}: a phone has charged for more than "
                    f"{config.max_charge_min} min; it stays locked until staff open it",
                )
            record = self._record(number)
            state = record.state
        if state in HOLDS_A_PHONE and (LockerIncidentKind.FORGOTTEN, number) not in incidents:
            closed = self._hours.closed_since(now)
            if closed is not None and (record.started_at or record.since) < closed:
                with self.store.change() as change:
                    change.raise_incident(
                        LockerIncidentKind.FORGOTTEN,
                        number,
                        now,
                        f"locker {number}: a phone is still there at closing time. "
                        f"{config.forgotten_text}".strip(),
                    )
        if doors is not None:
            self._look_at_door(record, doors[number], incidents, now)

    def _look_at_door(
        self,
        record: LockerRecord,
        door: DoorState,
        incidents: set[tuple[LockerIncidentKind, int | None]],
        now: datetime,
    ) -> None:
        number, state = record.number, record.state
        # How long the door has read as it does, counted from the locker's last change.
        lasted = now - max(self._door_since.get(number, now), record.since)
        door_open_raised = (LockerIncidentKind.DOOR_OPEN, number) in incidents
        if state in HOLDS_A_PHONE:
            if door is DoorState.OPEN and not door_open_raised:
                with self.store.change() as change:
                    change.raise_incident(
                        LockerIncidentKind.DOOR_OPEN,
                        number,
                        now,
                        f"locker {number}: its door is open while a phone is inside",
                    )
            elif door is DoorState.CLOSED and door_open_raised:
                with self.store.change() as change:
                    change.resolve_incident(
                        LockerIncidentKind.DOOR_OPEN, number, now, f"locker {number}: door shut"
                    )
        elif state is LockerState.DEPOSIT:
            if door is DoorState.CLOSED and lasted >= DOOR_GRACE:
                with self.store.change() as change:
                    self._abandon(change, record, now)
                    change.resolve_incident(LockerIncidentKind.DOOR_OPEN, number, now)
                    change.raise_incident(
                        LockerIncidentKind.DOOR_SHUT_EMPTY,
                        number,
                        now,
                        f"locker {number}: shut while waiting for a phone, and no code was "
                        "asked for; it is free again: check that it is empty",
                    )
                log.warning("locker %d: shut without a deposit; free again", number)
        elif state is LockerState.FREE:
            if door is DoorState.OPEN and lasted >= DOOR_GRACE:
                with self.store.change() as change:
                    change.put(
                        dataclasses.replace(record, state=LockerState.OUT_OF_ORDER, since=now)
                    )
                    change.raise_incident(
                        LockerIncidentKind.DOOR_OPEN,
                        number,
                        now,
                        f"locker {number}: its door stays open; nobody is offered it until it "
                        "is shut",
                    )
        elif state is LockerState.OUT_OF_ORDER and door is DoorState.CLOSED:
            with self.store.change() as change:
                change.put(dataclasses.replace(record, state=LockerState.FREE, since=now))
                change.resolve_incident(
                    LockerIncidentKind.DOOR_OPEN, number, now, f"locker {number}: door shut"
                )

    # -- internals: a restart --------------------------------------------------------------------

    def _recover(self, now: datetime) -> None:
        """Settle what a stop or a power cut left half done, from the door sensors; until the
        driver answers, nothing moves. Called with ``_lock`` held."""
        if self._recovered:
            return
        doors = self._read_doors(now)
        if doors is None:
            return
        try:
            with self._driver_lock:
                for number in self._numbers:
                    self.driver.lock(number)
        except DriverError as exc:
            self._driver_failed(exc, now)
            return
        self._unlocked.clear()
        for number, record in self.store.lockers().items():
            if number not in self._busy:
                continue
            door = doors[number]
            if record.opening is not None:
                if door is DoorState.OPEN:
                    log.warning("locker %d: an opening cut short is finished", number)
                    self._finish_opening(record, now)
                else:
                    log.warning("locker %d: an opening cut short is undone (door shut)", number)
                    with self.store.change() as change:
                        change.put(dataclasses.replace(record, opening=None))
            elif record.state is LockerState.DEPOSIT:
                with self.store.change() as change:
                    if door is DoorState.CLOSED:
                        self._abandon(change, record, now)
                        change.raise_incident(
                            LockerIncidentKind.DOOR_SHUT_EMPTY,
                            number,
                            now,
                            f"locker {number}: the kiosk restarted while it waited for a phone; "
                            "no code was shown, it is free again: check that it is empty",
                        )
                    else:
                        change.raise_incident(
                            LockerIncidentKind.DOOR_OPEN,
                            number,
                            now,
                            f"locker {number}: the kiosk restarted while it waited for a phone; "
                            "its door is open",
                        )
        self._recovered = True

    # -- internals: what goes out ----------------------------------------------------------------

    def _after(self, now: datetime) -> None:
        """Hand the outbox to the spool and report the lockers if they changed; a failure here
        is logged, never the answer of the operation (which is on disk already)."""
        try:
            self._deliver()
            self._report(now)
        except Exception:
            log.exception("the kiosk's events could not be spooled (they are kept)")

    def _deliver(self) -> None:
        with self._deliver_lock:
            pending = self.store.pending_events()
            for row_id, event in pending:
                self.events.append(_numbered(event))
                self.store.forget_event(row_id)
        if pending:
            self.on_event()

    def _report(self, now: datetime) -> None:
        records = self.store.lockers()
        lockers = [
            Locker(number=n, state=records[n].state, door=self._doors[n], since=records[n].since)
            for n in self._numbers
        ]
        with self._lock:
            driver_ok, message = self._driver_ok, self._driver_message
            key = (tuple((x.number, x.state, x.door, x.since) for x in lockers), driver_ok)
            due = self._reported_at is None or now - self._reported_at >= self.report_every
            if key == self._reported and not due:
                return
            self._reported, self._reported_at = key, now
        self.events.append(
            lambda seq: LockersReport(
                seq=seq, at=now, lockers=lockers, driver_ok=driver_ok, driver_message=message
            )
        )
        self.on_event()


def _numbered(event: OutboxEvent) -> Callable[[int], AgentEvent]:
    """``event`` with the seq the spool gives it."""
    return lambda seq: msgspec.structs.replace(event, seq=seq)


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


def _minutes(delta: timedelta) -> int:
    return max(1, round(delta.total_seconds() / 60))
