"""Keeping the hourly rollups up to date as data arrives, and rebuilding them from raw rows.

Three ways data reaches the rollups, each counted once:

- **Events**, in the ingest's transaction (:func:`session_event`, :func:`charging_event`,
  :func:`wifi_event`, following the public PCs', lockers' and hotspots' own handlers): a session
  ended, a phone charged, a hotspot's running count of connections. Stored and counted together
  or not at all. A hotspot sends running totals ("12 so far this hour"), so only what a report
  adds to the count already kept is added: a replay adds nothing.
- **Opening hours**, settled hour by hour once an hour is over (:func:`settle_open_hours`): the
  seconds each public PC stood in its site's opening hours, the denominator of occupancy. From
  the calendar, not from what was watched: a controller that was down still knows when a library
  was open, and the sessions it missed arrive later from the agents' spools.
- **Availability**, sampled (:func:`sample_availability`, every minute): of the opening hours
  the controller watched, the seconds each device was usable (online, in service, its guest
  login open). Not recoverable afterwards, so a gap in watching (the controller down) is left
  out of both figures rather than guessed.

The periodic rollups run in every controller process; a clock in ``statistics_clocks`` moved by
compare-and-set lets one process do each stretch of time, the others skip it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.orm import Session, undefer

from agent import protocol
from agent.protocol import DeviceKind, SessionEnd
from controller.db import utcnow
from controller.errors import DomainError
from controller.fleet.condition import Concern, ConcernFinder
from controller.fleet.models import Device, DeviceStatus
from controller.hotspots.models import PortalHour
from controller.lockers.models import ChargingSession
from controller.places.models import Site, SiteClosure
from controller.places.opening_hours import Closure, SchedulePolicy, open_intervals
from controller.public_pcs.models import PcSession
from controller.statistics.models import (
    ENDED_COLUMNS,
    MEASURES,
    DeviceHour,
    SiteDay,
    SiteHour,
    SiteWeekHour,
    StatisticsClock,
)

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
ROUND_THE_CLOCK = "24/7"  # a site without opening hours is open at all hours, as tickets count
SAMPLE_EVERY_S = 60.0
# A longer silence between two samples is the controller away: not watched, not counted.
LONGEST_SAMPLE = timedelta(minutes=5)
# How far back the opening hours are settled at most in one run (the rest by ``rebuild``).
LONGEST_SETTLING = timedelta(days=31)
AVAILABILITY_CLOCK = "availability"
OPEN_HOURS_CLOCK = "open_hours"
# What makes a device unusable to the public, as the domains that know it report it.
UNUSABLE = (Concern.OUT_OF_SERVICE, Concern.LOGIN_LOCKED)
# Raw-derived measures: what a rebuild recomputes (the sampled ones cannot be).
DERIVED = tuple(m for m in MEASURES if m not in ("observed_s", "usable_s"))
CHUNK = 20_000  # entries a rebuild holds in memory before writing them


def floor_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def hour_pieces(start: datetime, end: datetime) -> Iterator[tuple[datetime, int]]:
    """``[start, end)`` cut at the hours: (hour, whole seconds in it), in order.

    Seconds are counted from instants rounded down to the second, so that the pieces of a
    stretch add up to its length in whole seconds, whatever its fractions."""
    start = start.astimezone(UTC).replace(microsecond=0)
    end = end.astimezone(UTC).replace(microsecond=0)
    hour = floor_hour(start)
    while hour < end:
        following = hour + HOUR
        seconds = int((min(end, following) - max(start, hour)).total_seconds())
        if seconds > 0:
            yield hour, seconds
        hour = following


@dataclass(frozen=True)
class LocalTime:
    """Where a UTC hour falls in the city: its local day and hour of the week."""

    zone: ZoneInfo

    @classmethod
    def of(cls, timezone: str) -> LocalTime:
        return cls(ZoneInfo(timezone))

    def day(self, hour: datetime) -> date:
        return hour.astimezone(self.zone).date()

    def weekhour(self, hour: datetime) -> int:
        local = hour.astimezone(self.zone)
        return local.weekday() * 24 + local.hour

    def place(self, hour: datetime) -> tuple[date, int]:
        """The hour's local day and hour of the week, for one conversion."""
        local = hour.astimezone(self.zone)
        return local.date(), local.weekday() * 24 + local.hour

    def midnight(self, day: date) -> datetime:
        """The UTC instant a local day starts."""
        return datetime.combine(day, time(0), self.zone).astimezone(UTC)


def month_of(day: date) -> date:
    """The first day of ``day``'s month: the key of the site's hours of the week."""
    return day.replace(day=1)


@dataclass
class Tally:
    """Measures added up in memory by device-hour, site-hour, site-month-hour-of-the-week and
    site-day, then written in one upsert per table (each row adds to what is there)."""

    local: LocalTime
    devices: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)
    site_hours: dict[tuple[int, datetime], dict[str, Any]] = field(default_factory=dict)
    week_hours: dict[tuple[int, date, int], dict[str, Any]] = field(default_factory=dict)
    site_days: dict[tuple[int, date], dict[str, Any]] = field(default_factory=dict)
    # Where each hour falls locally, worked out once (a rebuild adds to an hour many times).
    _places: dict[datetime, tuple[date, int]] = field(default_factory=dict, repr=False)

    def add(self, device: Device | DeviceRef, hour: datetime, **measures: int) -> None:
        place = self._places.get(hour)
        if place is None:
            place = self._places[hour] = self.local.place(hour)
        day, weekhour = place
        site_id = device.site_id
        rows = (
            self.devices.get((device.id, hour))
            or self.devices.setdefault(
                (device.id, hour),
                {
                    "device_id": device.id,
                    "hour": hour,
                    "site_id": site_id,
                    "kind": device.kind,
                    "weekhour": weekhour,
                },
            ),
            self.site_hours.get((site_id, hour))
            or self.site_hours.setdefault(
                (site_id, hour), {"site_id": site_id, "hour": hour, "weekhour": weekhour}
            ),
            self.week_hours.get((site_id, month_of(day), weekhour))
            or self.week_hours.setdefault(
                (site_id, month_of(day), weekhour),
                {"site_id": site_id, "month": month_of(day), "weekhour": weekhour},
            ),
            self.site_days.get((site_id, day))
            or self.site_days.setdefault((site_id, day), {"site_id": site_id, "day": day}),
        )
        for row in rows:
            for name, value in measures.items():
                row[name] = row.get(name, 0) + value

    def __len__(self) -> int:
        return len(self.devices)

    def pc_session(
        self, device: Device | DeviceRef, started: datetime, ended: datetime, ended_by: str
    ) -> None:
        """A resident's session: started in its first hour, in use over every hour it spans.

        ``counted_from``-free: the whole session. For a rebuild that starts within a session,
        :meth:`pc_session_from`."""
        self.pc_session_from(device, started, ended, ended_by, started)

    def pc_session_from(
        self,
        device: Device | DeviceRef,
        started: datetime,
        ended: datetime,
        ended_by: str,
        counted_from: datetime,
    ) -> None:
        ended = max(ended, started)
        if started >= counted_from:
            self.add(
                device,
                floor_hour(started),
                pc_sessions=1,
                **{ENDED_COLUMNS[SessionEnd(ended_by)]: 1},
            )
        for hour, seconds in hour_pieces(max(started, counted_from), ended):
            self.add(device, hour, pc_in_use_s=seconds)

    def charging(
        self,
        device: Device | DeviceRef,
        started: datetime,
        ended: datetime,
        counted_from: datetime | None = None,
    ) -> None:
        """A phone charged: counted in the hour it was left, its seconds over every hour."""
        ended = max(ended, started)
        if counted_from is None or started >= counted_from:
            self.add(device, floor_hour(started), charging_sessions=1)
        begin = started if counted_from is None else max(started, counted_from)
        for hour, seconds in hour_pieces(begin, ended):
            self.add(device, hour, charging_s=seconds)

    def write(self, session: Session) -> None:
        for model, rows, keys in (
            (DeviceHour, self.devices, ("device_id", "hour")),
            (SiteHour, self.site_hours, ("site_id", "hour")),
            (SiteWeekHour, self.week_hours, ("site_id", "month", "weekhour")),
            (SiteDay, self.site_days, ("site_id", "day")),
        ):
            if rows:
                session.execute(
                    _adding_upsert(session, model.__table__, keys),  # type: ignore[arg-type]
                    [{**dict.fromkeys(MEASURES, 0), **row} for row in rows.values()],
                )
        self.devices.clear()
        self.site_hours.clear()
        self.week_hours.clear()
        self.site_days.clear()
        if len(self._places) > CHUNK:
            self._places.clear()


@dataclass(frozen=True)
class DeviceRef:
    """What the tally needs of a device (rows read with Core, without the ORM's cost)."""

    id: str
    site_id: int
    kind: str


def _adding_upsert(session: Session, table: Table, keys: Sequence[str]) -> Any:
    """INSERT … ON CONFLICT DO UPDATE that adds each measure to the row already there (SQLite
    and PostgreSQL share the syntax)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - borne's two databases
        raise NotImplementedError(f"statistics rollups on {dialect}")
    statement: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in MEASURES},
    )


# --- events, in the ingest's transaction -----------------------------------------------------


def session_event(
    local: LocalTime,
    session: Session,
    device: Device,
    event: protocol.SessionRecord,
    _now: datetime,
) -> None:
    """A resident's session on a public PC, into the rollups (after public_pcs stores it)."""
    tally = Tally(local)
    tally.pc_session(device, event.started_at, event.ended_at, event.ended_by)
    tally.write(session)


def charging_event(
    local: LocalTime,
    session: Session,
    device: Device,
    event: protocol.ChargingSession,
    _now: datetime,
) -> None:
    """A phone charged at a kiosk, into the rollups (after the lockers store it)."""
    tally = Tally(local)
    tally.charging(device, event.started_at, event.ended_at)
    tally.write(session)


def wifi_event(
    local: LocalTime, session: Session, device: Device, event: protocol.PortalStats, _now: datetime
) -> None:
    """A hotspot's running counts of connections per hour: what each adds to the count kept."""
    tally = Tally(local)
    for item in event.connections_by_hour:
        hour = floor_hour(item.hour)
        kept = session.scalar(
            select(DeviceHour.wifi_connections).where(
                DeviceHour.device_id == device.id, DeviceHour.hour == hour
            )
        )
        added = item.connections - (kept or 0)
        if added > 0:
            tally.add(device, hour, wifi_connections=added)
    tally.write(session)


# --- the clocks of the periodic rollups ------------------------------------------------------


def _advance_clock(session: Session, name: str, to: datetime) -> datetime | None:
    """Move clock ``name`` to ``to``; return where it was. None: it was not set (now it is, and
    the stretch before is the rebuild's) or another process moved it first (this one skips)."""
    row = session.execute(
        select(StatisticsClock.at).where(StatisticsClock.name == name)
    ).one_or_none()
    if row is None:
        session.execute(insert(StatisticsClock).values(name=name, at=to))
        return None
    was: datetime = row.at
    if was >= to:
        return None
    moved = session.execute(
        update(StatisticsClock)
        .where(StatisticsClock.name == name, StatisticsClock.at == was)
        .values(at=to)
        .execution_options(synchronize_session=False)
    )
    return was if moved.rowcount == 1 else None  # type: ignore[attr-defined]


def clock_at(session: Session, name: str) -> datetime | None:
    return session.scalar(select(StatisticsClock.at).where(StatisticsClock.name == name))


# --- opening hours ---------------------------------------------------------------------------


class Calendars:
    """The sites' opening stretches, their closures read once for all sites."""

    def __init__(self, session: Session, sites: Iterable[Site], policy: SchedulePolicy) -> None:
        self.policy = policy
        self.sites = {site.id: site for site in sites}
        self.closures: dict[int, list[Closure]] = defaultdict(list)
        if self.sites:
            for closure in session.scalars(
                select(SiteClosure).where(SiteClosure.site_id.in_(self.sites))
            ):
                self.closures[closure.site_id].append(
                    Closure(closure.starts_on, closure.ends_on, closure.reason)
                )

    def open(self, site_id: int, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """When the site is open in ``[start, end)``. No hours: round the clock; hours that
        cannot be read: round the clock too (the site's page already says they are wrong)."""
        site = self.sites[site_id]
        closures = self.closures.get(site_id, [])
        expression = site.opening_hours.strip() or ROUND_THE_CLOCK
        try:
            return open_intervals(expression, start, end, policy=self.policy, closures=closures)
        except DomainError:
            return open_intervals(
                ROUND_THE_CLOCK, start, end, policy=self.policy, closures=closures
            )


def _present(device_row: Any, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The part of ``[start, end)`` the device was enrolled and not yet retired."""
    begin = max(start, device_row.enrolled_at)
    finish = end if device_row.retired_at is None else min(end, device_row.retired_at)
    return (begin, finish) if begin < finish else None


def _pc_rows(session: Session, start: datetime, end: datetime) -> list[Any]:
    return list(
        session.execute(
            select(
                Device.id, Device.site_id, Device.kind, Device.enrolled_at, Device.retired_at
            ).where(
                Device.kind == DeviceKind.PC,
                Device.enrolled_at < end,
                or_(Device.retired_at.is_(None), Device.retired_at > start),
            )
        )
    )


def add_open_hours(
    session: Session,
    tally: Tally,
    start: datetime,
    end: datetime,
    policy: SchedulePolicy,
) -> None:
    """Add to ``tally`` the seconds each public PC stood in its site's opening hours in
    ``[start, end)``, from the calendar (its enrolment to its retirement)."""
    pcs = _pc_rows(session, start, end)
    if not pcs:
        return
    sites = session.scalars(select(Site).where(Site.id.in_({pc.site_id for pc in pcs})))
    calendars = Calendars(session, sites, policy)
    stretches = {site_id: calendars.open(site_id, start, end) for site_id in calendars.sites}
    for pc in pcs:
        present = _present(pc, start, end)
        if present is None:
            continue
        ref = DeviceRef(pc.id, pc.site_id, pc.kind)
        for a, b in stretches[pc.site_id]:
            a, b = max(a, present[0]), min(b, present[1])
            for hour, seconds in hour_pieces(a, b):
                tally.add(ref, hour, pc_open_s=seconds)
        if len(tally) >= CHUNK:
            tally.write(session)


def settle_open_hours(
    session: Session, local: LocalTime, policy: SchedulePolicy, now: datetime | None = None
) -> int:
    """Count the opening hours of the public PCs for every hour over since the last run; return
    how many hours. The first run starts the clock (the past is the rebuild's)."""
    until = floor_hour(now or utcnow())
    since = _advance_clock(session, OPEN_HOURS_CLOCK, until)
    if since is None:
        return 0
    since = max(since, until - LONGEST_SETTLING)
    tally = Tally(local)
    add_open_hours(session, tally, since, until, policy)
    tally.write(session)
    return int((until - since) / HOUR)


# --- availability, sampled -------------------------------------------------------------------


def unusable_devices(
    session: Session, devices: Sequence[Device], finders: Sequence[tuple[Concern, ConcernFinder]]
) -> set[str]:
    """Of ``devices``, those residents cannot use now: offline (or never heard), out of service,
    or a public PC whose guest login is locked."""
    down = {d.id for d in devices if DeviceStatus(d.status) is not DeviceStatus.ONLINE}
    for concern, finder in finders:
        if concern in UNUSABLE:
            down |= finder(session, devices)
    return down


def sample_availability(
    session: Session,
    local: LocalTime,
    policy: SchedulePolicy,
    finders: Sequence[tuple[Concern, ConcernFinder]],
    now: datetime | None = None,
) -> int:
    """Count, for each device, the opening time since the last sample as watched, and as usable
    if it is usable now; return the number of devices counted. The first run starts the clock;
    a gap longer than :data:`LONGEST_SAMPLE` is counted only for its last minutes."""
    now = now or utcnow()
    since = _advance_clock(session, AVAILABILITY_CLOCK, now)
    if since is None:
        return 0
    since = max(since, now - LONGEST_SAMPLE)
    devices = list(
        session.scalars(
            select(Device)
            .where(Device.retired_at.is_(None), Device.enrolled_at < now)
            .options(undefer(Device.metrics))
        )
    )
    if not devices:
        return 0
    down = unusable_devices(session, devices, finders)
    sites = session.scalars(select(Site).where(Site.id.in_({d.site_id for d in devices})))
    calendars = Calendars(session, sites, policy)
    stretches = {site_id: calendars.open(site_id, since, now) for site_id in calendars.sites}
    tally = Tally(local)
    for device in devices:
        begin = max(since, device.enrolled_at)
        usable = device.id not in down
        for a, b in stretches[device.site_id]:
            for hour, seconds in hour_pieces(max(a, begin), b):
                if usable:
                    tally.add(device, hour, observed_s=seconds, usable_s=seconds)
                else:
                    tally.add(device, hour, observed_s=seconds)
    tally.write(session)
    return len(devices)


# --- rebuilding from raw rows ----------------------------------------------------------------


@dataclass(frozen=True)
class Rebuilt:
    since: datetime | None
    pc_sessions: int
    charging_sessions: int
    wifi_hours: int


def rebuild(
    session: Session,
    local: LocalTime,
    policy: SchedulePolicy,
    since: date | None = None,
    now: datetime | None = None,
) -> Rebuilt:
    """Recompute the rollups from raw rows from local day ``since`` (None: from the start):
    sessions, phones charged, wifi connections and the PCs' opening hours. What was sampled
    (availability) cannot be recomputed and stays as it was."""
    now = now or utcnow()
    start = local.midnight(since) if since is not None else None
    tally = Tally(local)
    _zero_derived(session, tally, start, since)
    devices = {
        row.id: DeviceRef(row.id, row.site_id, row.kind)
        for row in session.execute(select(Device.id, Device.site_id, Device.kind))
    }

    sessions = select(PcSession).execution_options(yield_per=CHUNK).order_by(PcSession.id)
    if start is not None:
        sessions = sessions.where(PcSession.ended_at >= start)
    counted = 0
    for row in session.scalars(sessions):
        at_site = DeviceRef(row.device_id, row.site_id, devices[row.device_id].kind)
        tally.pc_session_from(
            at_site, row.started_at, row.ended_at, row.ended_by, start or row.started_at
        )
        counted += start is None or row.started_at >= start
        if len(tally) >= CHUNK:
            tally.write(session)

    charged = select(ChargingSession).execution_options(yield_per=CHUNK)
    if start is not None:
        charged = charged.where(ChargingSession.ended_at >= start)
    phones = 0
    for phone in session.scalars(charged.order_by(ChargingSession.id)):
        at_site = DeviceRef(phone.device_id, phone.site_id, devices[phone.device_id].kind)
        tally.charging(at_site, phone.started_at, phone.ended_at, start)
        phones += start is None or phone.started_at >= start
        if len(tally) >= CHUNK:
            tally.write(session)

    hours = select(PortalHour).execution_options(yield_per=CHUNK)
    if start is not None:
        hours = hours.where(PortalHour.hour >= start)
    wifi = 0
    for counted_hour in session.scalars(hours.order_by(PortalHour.id)):
        at_site = DeviceRef(
            counted_hour.device_id, counted_hour.site_id, devices[counted_hour.device_id].kind
        )
        tally.add(at_site, floor_hour(counted_hour.hour), wifi_connections=counted_hour.connections)
        wifi += 1
        if len(tally) >= CHUNK:
            tally.write(session)

    until = floor_hour(now)
    first = start or session.scalar(select(Device.enrolled_at).order_by(Device.enrolled_at))
    if first is not None and first < until:
        add_open_hours(session, tally, first, until, policy)
    tally.write(session)
    if clock_at(session, OPEN_HOURS_CLOCK) is None:
        _advance_clock(session, OPEN_HOURS_CLOCK, until)
    else:
        session.execute(
            update(StatisticsClock)
            .where(StatisticsClock.name == OPEN_HOURS_CLOCK)
            .values(at=until)
            .execution_options(synchronize_session=False)
        )
    return Rebuilt(start, counted, phones, wifi)


def _zero_derived(
    session: Session, tally: Tally, start: datetime | None, since: date | None
) -> None:
    """Zero the raw-derived measures from ``start`` (local day ``since``) on. A month's hours
    of the week mix the days before ``since`` with those after: zeroed whole, the days before
    are added back to ``tally`` from the site-hours, which keep them."""
    zero = dict.fromkeys(DERIVED, 0)
    month = month_of(since) if since is not None else None
    for model, column, bound in (
        (DeviceHour, DeviceHour.hour, start),
        (SiteHour, SiteHour.hour, start),
        (SiteWeekHour, SiteWeekHour.month, month),
        (SiteDay, SiteDay.day, since),
    ):
        statement = update(model).values(zero).execution_options(synchronize_session=False)
        if bound is not None:
            statement = statement.where(column >= bound)
        session.execute(statement)
    if start is None or month is None:
        return
    kept = session.execute(
        select(SiteHour.site_id, SiteHour.hour, SiteHour.weekhour, *_derived(SiteHour)).where(
            SiteHour.hour >= tally.local.midnight(month), SiteHour.hour < start
        )
    )
    for row in kept:
        key = (row.site_id, month, row.weekhour)
        added = tally.week_hours.setdefault(
            key, {"site_id": row.site_id, "month": month, "weekhour": row.weekhour}
        )
        for name in DERIVED:
            added[name] = added.get(name, 0) + getattr(row, name)


def _derived(model: Any) -> list[Any]:
    return [getattr(model, name) for name in DERIVED]
