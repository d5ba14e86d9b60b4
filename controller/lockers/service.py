"""Charging kiosks' lockers on the controller: what the kiosks report, and a remote opening.

A kiosk keeps its lockers itself (agent/kiosk/bank.py) and keeps working while the controller is
away; the controller only holds what the kiosk said last, so that staff see it. What it stores:

- each kiosk's lockers (number, state, door, since), replaced by every newer report; the kiosk's
  own clock orders them, because a report spooled during an outage may arrive after a fresh one;
- each phone charged (when, how long, how it ended): never a code, never anything of a resident;
- each incident the kiosk raised and has not said is over, so that the one alert per device and
  kind (maintenance) stays open until the last locker it is about is sorted out.

Staff opening a locker at the kiosk with their PIN, or from here, is written to the audit log
with who and why: a locker holds someone's phone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from agent import protocol
from agent.protocol import CommandName, DeviceKind, LockerIncidentKind, LockerState
from controller import access, audit
from controller.access import StaffMember
from controller.commands import service as commands
from controller.commands.models import Command
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied
from controller.fleet.ingest import LiveMessage
from controller.fleet.models import Device, DeviceStatus
from controller.i18n import _
from controller.lockers.models import (
    WHOLE_KIOSK,
    ChargingSession,
    Locker,
    LockerBank,
    OpenIncident,
)
from controller.maintenance import service as alerts
from controller.maintenance.models import AlertKind
from controller.places.models import Site

REASON_MAX = 200  # what the kiosk's protocol takes (OpenLockerArgs.reason)

# The alert each incident raises: one per device and kind, so both ways a door goes wrong share
# one alert, which stays open while either is.
ALERT_OF_INCIDENT = {
    LockerIncidentKind.OVERTIME: AlertKind.LOCKER_OVERTIME,
    LockerIncidentKind.FORGOTTEN: AlertKind.LOCKER_FORGOTTEN,
    LockerIncidentKind.DOOR_OPEN: AlertKind.LOCKER_DOOR,
    LockerIncidentKind.DOOR_SHUT_EMPTY: AlertKind.LOCKER_DOOR,
    LockerIncidentKind.DRIVER_DOWN: AlertKind.LOCKER_DRIVER,
    LockerIncidentKind.KEYPAD_PAUSED: AlertKind.KEYPAD_PAUSED,
}

# What each alert says, in English (stored once for every reader, and carried by the API, the
# signals and the tickets); maintenance/web.py alert_text says it again in the reader's words,
# reading the lockers from the "Locker 3: " or "Lockers 3, 5: " that starts the message.
ALERT_SENTENCES = {
    AlertKind.LOCKER_OVERTIME: (
        "a phone is past the site's longest charging time at {device}: the locker stays shut "
        "until a member of staff opens it."
    ),
    AlertKind.LOCKER_FORGOTTEN: (
        "a phone is still there at closing time at {device}: follow the site's procedure for "
        "forgotten phones."
    ),
    AlertKind.LOCKER_DOOR: (
        "a door of {device} is not as it should be (open when it should be shut, or shut on a "
        "locker waiting for a phone): check it."
    ),
    AlertKind.LOCKER_DRIVER: (
        "the lock board of {device} does not answer: no locker opens until it does."
    ),
    AlertKind.KEYPAD_PAUSED: (
        "the keypad of {device} is paused after wrong codes on several lockers."
    ),
}

# A locker staff should look at: a phone kept past its time, or a locker nobody is offered.
TROUBLED_STATES = (LockerState.OVERTIME, LockerState.OUT_OF_ORDER)


# --- what the kiosks report (the ingest's handlers, in its transaction) ------------------------


def lockers_event(
    session: Session, device: Device, event: protocol.LockersReport, now: datetime
) -> LiveMessage | None:
    """Replace the kiosk's lockers with those of ``event``, unless a newer report (by the
    kiosk's clock) is already stored: a report spooled during an outage may come after."""
    bank = session.get(LockerBank, device.id)
    if bank is not None and bank.reported_at > event.at:
        return None
    if bank is None:
        bank = LockerBank(device_id=device.id)
        session.add(bank)
    bank.reported_at = event.at
    bank.driver_ok = event.driver_ok
    bank.driver_message = event.driver_message
    bank.updated_at = now

    stored = {
        locker.number: locker
        for locker in session.scalars(select(Locker).where(Locker.device_id == device.id))
    }
    reported = {locker.number: locker for locker in event.lockers}  # a repeated number: the last
    for number, said in reported.items():
        row = stored.get(number)
        if row is None:
            session.add(
                Locker(
                    device_id=device.id,
                    number=number,
                    state=said.state,
                    door=said.door,
                    since=said.since,
                    updated_at=now,
                )
            )
        elif (row.state, row.door, row.since) != (said.state, said.door, said.since):
            row.state, row.door, row.since, row.updated_at = (
                said.state,
                said.door,
                said.since,
                now,
            )
    for number, row in stored.items():
        if number not in reported:  # the kiosk has fewer lockers now
            session.delete(row)
    return None


def charging_event(
    session: Session, device: Device, event: protocol.ChargingSession, now: datetime
) -> LiveMessage | None:
    """Store one phone charged, once per (kiosk, event number): anonymous, its length and how
    it ended."""
    ended_at = max(event.ended_at, event.started_at)
    row = {
        "device_id": device.id,
        "seq": event.seq,
        "site_id": device.site_id,
        "locker": event.locker,
        "started_at": event.started_at,
        "ended_at": ended_at,
        "duration_s": int((ended_at - event.started_at).total_seconds()),
        "ended_by": event.ended_by,
    }
    session.execute(_insert_once(session), [row])
    return None


def _insert_once(session: Session) -> Any:
    """INSERT of a charging session that skips one already stored: the ingest drops replays by
    their number, and the unique (device, seq) keeps a replay handled twice (two controller
    processes, a retried flush) from counting a phone twice."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(ChargingSession).on_conflict_do_nothing(
            constraint="uq_charging_sessions_device_seq"
        )
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(ChargingSession).on_conflict_do_nothing()
    return insert(ChargingSession)


def incident_event(
    session: Session, device: Device, event: protocol.LockerIncident, now: datetime
) -> LiveMessage | None:
    """Raise the incident's alert (which opens or joins a ticket), or resolve it once the
    kiosk says the last incident of that alert is over."""
    kind = ALERT_OF_INCIDENT[event.kind]
    locker = event.locker if event.locker is not None else WHOLE_KIOSK
    key = (device.id, event.kind, locker)
    row = session.get(OpenIncident, key)
    if not event.resolved:
        if row is None:
            row = OpenIncident(device_id=device.id, kind=event.kind, locker=locker)
            session.add(row)
        row.message, row.raised_at = event.message, event.at
    elif row is not None:
        session.delete(row)
    session.flush()
    still_open = _open_incidents(session, device.id, kind)
    if still_open:
        alerts.raise_alert(session, device, kind, alert_message(device, kind, still_open), now)
    elif event.resolved:
        said = f": {event.message}" if event.message else ""
        alerts.resolve_alert(session, device.id, kind, f"the kiosk reported it over{said}", now)
    return None


def _open_incidents(session: Session, device_id: str, kind: AlertKind) -> list[OpenIncident]:
    incident_kinds = [k for k, alert in ALERT_OF_INCIDENT.items() if alert is kind]
    return list(
        session.scalars(
            select(OpenIncident)
            .where(OpenIncident.device_id == device_id, OpenIncident.kind.in_(incident_kinds))
            .order_by(OpenIncident.locker)
        )
    )


def alert_message(device: Device, kind: AlertKind, incidents: Sequence[OpenIncident]) -> str:
    """The alert's message in English: the lockers it is about first ("Lockers 3, 5: "), then
    what it means, then what the kiosk said."""
    numbers = sorted({i.locker for i in incidents if i.locker != WHOLE_KIOSK})
    lockers = ""
    if numbers:
        lockers = f"Locker{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))}: "
    said = "; ".join(dict.fromkeys(i.message for i in incidents if i.message))
    sentence = ALERT_SENTENCES[kind].format(device=device.name)
    if not lockers:
        sentence = sentence[0].upper() + sentence[1:]
    return f"{lockers}{sentence}" + (f" The kiosk says: {said}" if said else "")


def staff_opening_event(
    session: Session, device: Device, event: protocol.StaffOpening, now: datetime
) -> LiveMessage | None:
    """Write a member of staff's opening of a locker to the audit log: who (the username the
    kiosk reported) and why, at the kiosk with their PIN or from here."""
    staff = event.staff or "(unknown staff)"
    how = "from the controller" if event.remote else "at the kiosk with their PIN"
    audit.record(
        session,
        staff,
        "locker.open",
        "device",
        device.id,
        f"locker {event.locker} of {device.name} opened {how}: {event.reason}",
        locker=event.locker,
        reason=event.reason,
        remote=event.remote,
        opened_at=event.at.isoformat(),
    )
    return None


# --- what staff see -------------------------------------------------------------------------


@dataclass(frozen=True)
class KioskLockers:
    """A kiosk's lockers as it last reported them (``bank`` None: never yet)."""

    device: Device
    bank: LockerBank | None
    lockers: list[Locker]

    def count(self, *states: LockerState) -> int:
        return sum(1 for locker in self.lockers if locker.state in states)

    @property
    def free(self) -> int:
        return self.count(LockerState.FREE)

    @property
    def total(self) -> int:
        return len(self.lockers)

    @property
    def troubled(self) -> int:
        """Lockers staff should look at: past their time or out of order."""
        return self.count(*TROUBLED_STATES)

    @property
    def driver_ok(self) -> bool:
        return self.bank is None or self.bank.driver_ok


def has_lockers(session: Session, device: Device) -> bool:
    """Whether ``device`` has lockers: a charging kiosk, or a device that reported some (a
    kiosk enrolled as the place's hotspot, running both roles)."""
    return device.kind == DeviceKind.KIOSK or session.get(LockerBank, device.id) is not None


def lockers_of(session: Session, viewer: StaffMember, device: Device) -> KioskLockers:
    """The kiosk's lockers, for someone who sees it; 404 for a device without lockers."""
    access.require(viewer, access.Action.VIEW_FLEET, device.site)
    if not has_lockers(session, device):
        raise NotFound(
            _("%(device)s is not a charging kiosk: it has no lockers", device=device.name),
            code="not_a_kiosk",
        )
    return _kiosk_lockers(session, [device])[0]


def site_lockers(session: Session, viewer: StaffMember, site: Site) -> list[KioskLockers]:
    """Each kiosk of ``site`` in service with its lockers, by name; for someone who sees it."""
    access.require(viewer, access.Action.VIEW_FLEET, site)
    kiosks = list(
        session.scalars(
            select(Device)
            .where(Device.site_id == site.id, Device.retired_at.is_(None))
            .where(
                or_(
                    Device.kind == DeviceKind.KIOSK,
                    Device.id.in_(select(LockerBank.device_id)),
                )
            )
            .order_by(Device.name)
        )
    )
    return _kiosk_lockers(session, kiosks)


def _kiosk_lockers(session: Session, devices: Sequence[Device]) -> list[KioskLockers]:
    """The lockers of ``devices``, in two queries whatever their number."""
    ids = [d.id for d in devices]
    banks: dict[str, LockerBank] = {}
    lockers: dict[str, list[Locker]] = {d.id: [] for d in devices}
    if ids:
        banks = {
            b.device_id: b
            for b in session.scalars(select(LockerBank).where(LockerBank.device_id.in_(ids)))
        }
        for locker in session.scalars(
            select(Locker).where(Locker.device_id.in_(ids)).order_by(Locker.number)
        ):
            lockers[locker.device_id].append(locker)
    return [KioskLockers(d, banks.get(d.id), lockers[d.id]) for d in devices]


def free_lockers_by_site(session: Session, site_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Lockers free and in all at each site (``{site_id: (free, total)}``), for the public
    page of places: only kiosks online and in service whose lock board answers offer a locker
    to a resident, so the others count as none free. Aggregates only."""
    wanted = list(site_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(
            Device.site_id,
            Locker.state,
            Device.status,
            Device.out_of_service_since.is_(None).label("in_service"),
            LockerBank.driver_ok,
            func.count(),
        )
        .join(Device, Device.id == Locker.device_id)
        .join(LockerBank, LockerBank.device_id == Locker.device_id)
        .where(Device.site_id.in_(wanted), Device.retired_at.is_(None))
        .group_by(
            Device.site_id,
            Locker.state,
            Device.status,
            Device.out_of_service_since.is_(None),
            LockerBank.driver_ok,
        )
    )
    found: dict[int, tuple[int, int]] = {}
    for site_id, state, status, in_service, driver_ok, count in rows:
        free, total = found.get(site_id, (0, 0))
        offered = status == DeviceStatus.ONLINE and in_service and driver_ok
        if offered and state == LockerState.FREE:
            free += count
        found[site_id] = (free, total + count)
    return found


def devices_with_locker_trouble(session: Session, devices: Sequence[Device]) -> set[str]:
    """Of ``devices``, the kiosks with a locker past its time or out of order: the fleet's
    lists flag them."""
    ids = [d.id for d in devices if d.kind == DeviceKind.KIOSK]
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Locker.device_id)
            .where(Locker.device_id.in_(ids), Locker.state.in_(TROUBLED_STATES))
            .distinct()
        )
    )


def charging_sessions_between(
    session: Session, site_ids: Iterable[int], start: datetime, end: datetime
) -> list[ChargingSession]:
    """The phones charged at ``site_ids`` that started in [``start``, ``end``), oldest first:
    what the statistics count (how many, how long, per site and day). No access check: the
    caller aggregates for those who may read the figures of these sites."""
    wanted = list(site_ids)
    if not wanted:
        return []
    return list(
        session.scalars(
            select(ChargingSession)
            .where(
                ChargingSession.site_id.in_(wanted),
                ChargingSession.started_at >= start,
                ChargingSession.started_at < end,
            )
            .order_by(ChargingSession.started_at, ChargingSession.id)
        )
    )


# --- a remote opening ---------------------------------------------------------------------------


def may_open(user: StaffMember, device: Device) -> bool:
    """Whether ``user`` may open a locker of ``device`` from here: admins and technicians of its
    place (the OPEN_LOCKER command); a mediator opens it at the kiosk, with their PIN."""
    return device.kind == DeviceKind.KIOSK and access.may_command(
        user, CommandName.OPEN_LOCKER, device.site
    )


def request_open(
    session: Session, user: StaffMember, device: Device, number: int, reason: str
) -> Command:
    """Ask the kiosk to open locker ``number`` for ``user``, who says why; audited.

    The kiosk opens it whatever it holds, and reports the opening back (``StaffOpening``),
    which the audit log keeps too. Refused: a device that is not a kiosk, someone who may not
    send the command, no reason, a locker the kiosk does not have.
    """
    access.require(user, access.Action.VIEW_FLEET, device.site)
    if device.kind != DeviceKind.KIOSK:
        raise NotFound(
            _("%(device)s is not a charging kiosk: it has no lockers", device=device.name),
            code="not_a_kiosk",
        )
    if not access.may_command(user, CommandName.OPEN_LOCKER, device.site):
        raise PermissionDenied(
            _(
                "a %(role)s may not open a locker from here: open it at the kiosk with your "
                "PIN, or ask a technician",
                role=access.role_word(user.role),
            )
        )
    reason = " ".join(reason.split())
    if not reason:
        raise DomainError(
            _("say why you open the locker: the audit log keeps it"),
            code="reason_required",
            status=422,
        )
    if len(reason) > REASON_MAX:
        raise DomainError(
            _("the reason is %(max)d characters at most", max=REASON_MAX),
            code="reason_too_long",
            status=422,
        )
    known = [locker.number for locker in _kiosk_lockers(session, [device])[0].lockers]
    if not known:
        raise Conflict(
            _(
                "%(device)s has not reported its lockers yet: wait until it is online",
                device=device.name,
            ),
            code="no_lockers_reported",
        )
    if number not in known:
        raise NotFound(
            _(
                "%(device)s has no locker %(number)s: its lockers are %(first)d to %(last)d",
                device=device.name,
                number=number,
                first=min(known),
                last=max(known),
            ),
            code="no_such_locker",
        )
    (command,) = commands.issue(
        session,
        user,
        CommandName.OPEN_LOCKER,
        device_ids=[device.id],
        args={"locker": number, "staff": user.username, "reason": reason},
        pushed=True,
    )
    audit.record(
        session,
        user,
        "locker.open_requested",
        "device",
        device.id,
        f"locker {number} of {device.name}: {reason}",
        locker=number,
        reason=reason,
        command_id=command.id,
    )
    return command
