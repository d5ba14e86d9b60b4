"""The managers' figures, read from the rollups only (never from raw rows): sites side by side
and ranked, each day of the period, occupancy by hour of the week, a site's devices, how
sessions ended; with the tickets, which are few enough to read directly.

Who reads them: admins (every place) and managers (the organisations and sites they cover).
Which places: one site, one organisation (the part of it the reader covers), or all the reader
covers. Which period: whole local days, both ends included.

Each figure is one or two indexed queries on a rollup table: the ranking and the days read the
site-days (a site's day in one row), the hours of the week the sites' months by hour of the
week (the site-hours only for the days at the period's ends), a site's devices the device-hours
of that site only. bench/stats.py times each on a year of 500 devices.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from agent.protocol import DeviceKind, SessionEnd
from controller import access
from controller.access import Action, StaffMember
from controller.errors import DomainError, NotFound, PermissionDenied
from controller.fleet.models import Device
from controller.hotspots.models import PortalDay
from controller.i18n import _
from controller.maintenance.models import Ticket
from controller.places import service as places
from controller.places.models import Organisation, Site
from controller.statistics import privacy
from controller.statistics.models import (
    ENDED_COLUMNS,
    DeviceHour,
    SiteDay,
    SiteHour,
    SiteWeekHour,
)
from controller.statistics.rollups import LocalTime

DEFAULT_DAYS = 30
LONGEST_PERIOD_DAYS = 3 * 366  # three years at once: the rollups' reach, and a page's
# Occupancy of a site's public PCs over their opening hours that makes it stand out.
SATURATED = 0.75
LITTLE_USED = 0.15
HOUR_S = 3600


def may_read(viewer: StaffMember) -> bool:
    """Whether ``viewer``'s role reads usage statistics: admins and managers."""
    return access.can(viewer, Action.VIEW_STATISTICS)


def require_reader(viewer: StaffMember) -> None:
    if not may_read(viewer):
        raise PermissionDenied(
            _("a %(role)s may not read the statistics", role=access.role_word(viewer.role))
        )


# --- the period and the places -------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days, ``first_day`` to ``last_day`` included; ``start`` and ``end`` are the
    UTC instants they begin and end."""

    first_day: date
    last_day: date
    start: datetime
    end: datetime
    local: LocalTime

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def period_of(first_day: date, last_day: date, local: LocalTime) -> Period:
    """The period from ``first_day`` to ``last_day``; 422 when it ends before it starts or
    spans more than three years."""
    if last_day < first_day:
        raise DomainError(
            _(
                "the period ends on %(last)s, before it starts on %(first)s",
                last=last_day.isoformat(),
                first=first_day.isoformat(),
            ),
            code="invalid_period",
            status=422,
        )
    if (last_day - first_day).days + 1 > LONGEST_PERIOD_DAYS:
        raise DomainError(
            _("a period is at most %(days)d days long", days=LONGEST_PERIOD_DAYS),
            code="invalid_period",
            status=422,
        )
    try:
        start = local.midnight(first_day)
        end = local.midnight(last_day + timedelta(days=1))
    except OverflowError:
        raise DomainError(
            _("the period must lie between the years 1 and 9999"),
            code="invalid_period",
            status=422,
        ) from None
    return Period(first_day, last_day, start, end, local)


def default_days(today: date) -> tuple[date, date]:
    """The last :data:`DEFAULT_DAYS` days, today included."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


@dataclass(frozen=True)
class Selection:
    """The places the figures are about, all of which the reader covers."""

    sites: tuple[Site, ...]  # by name
    organisation: Organisation | None = None
    site: Site | None = None

    @property
    def site_ids(self) -> list[int]:
        return [site.id for site in self.sites]


def select_places(
    session: Session,
    viewer: StaffMember,
    *,
    organisation_id: int | None = None,
    site_id: int | None = None,
) -> Selection:
    """One site, an organisation's sites the reader covers, or every site they cover.

    404 for a site or an organisation that does not exist, 403 for one outside the reader's
    places, 422 for a site of another organisation than the one named."""
    require_reader(viewer)
    organisation = None
    if organisation_id is not None:
        organisation = session.get(Organisation, organisation_id)
        if organisation is None:
            raise NotFound(_("no organisation %(ref)s", ref=repr(organisation_id)))
    if site_id is not None:
        site = session.get(Site, site_id)
        if site is None:
            raise NotFound(_("no site %(site)s", site=site_id))
        if not access.covers_site(viewer, site):
            raise PermissionDenied(_("%(site)s is outside the places you cover", site=site.name))
        if organisation is not None and site.organisation_id != organisation.id:
            raise DomainError(
                _(
                    "%(site)s is not a place of %(organisation)s",
                    site=site.name,
                    organisation=organisation.name,
                ),
                code="site_not_in_organisation",
                status=422,
            )
        return Selection((site,), site.organisation, site)
    query = places.visible_sites_query(viewer).order_by(Site.name, Site.id)
    if organisation is not None:
        query = query.where(Site.organisation_id == organisation.id)
    sites = tuple(session.scalars(query))
    if organisation is not None and not sites:
        raise PermissionDenied(
            _("%(organisation)s is outside the places you cover", organisation=organisation.name)
        )
    return Selection(sites, organisation)


def organisations_of(session: Session, viewer: StaffMember) -> list[Organisation]:
    """The organisations with a site the reader covers, by name (the dashboard's choices)."""
    require_reader(viewer)
    ids = places.visible_sites_query(viewer).with_only_columns(Site.organisation_id)
    return list(
        session.scalars(
            select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)
        )
    )


# --- sites side by side ----------------------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    """``part`` of ``whole``, at most 1 (a session begun before opening time counts in use);
    None when there is no whole to measure against."""
    return min(1.0, part / whole) if whole else None


@dataclass(frozen=True)
class SiteUsage:
    """One site over the period. Occupancy: the share of its public PCs' opening hours spent in
    a session; availability: the share of its devices' opening hours (as watched) they could
    be used."""

    site_id: int
    site: str
    organisation: str
    pcs: int  # public PCs there now
    kiosks: int
    hotspots: int
    pc_sessions: int
    pc_in_use_h: float
    occupancy: float | None  # 0 to 1; null without public PCs in opening hours
    sessions_per_pc_day: float | None
    availability: float | None  # 0 to 1; null when nothing was watched
    charging_sessions: int
    charging_h: float
    wifi_connections: int
    wifi_unique_per_day: float | None  # distinct devices on an average day with wifi figures
    wifi_peak_clients: int  # the most devices on the wifi at once
    tickets_opened: int
    tickets_solved: int  # of those opened in the period
    solve_median_h: float | None  # calendar hours from opening to solved
    verdict: str  # "saturated", "little_used" or ""


def _sums(session: Session, selection: Selection, period: Period) -> dict[int, Any]:
    measures = [func.sum(getattr(SiteDay, name)).label(name) for name in _SUMMED]
    rows = session.execute(
        select(SiteDay.site_id, *measures)
        .where(
            SiteDay.site_id.in_(selection.site_ids),
            SiteDay.day >= period.first_day,
            SiteDay.day <= period.last_day,
        )
        .group_by(SiteDay.site_id)
    )
    return {row.site_id: row for row in rows}


_SUMMED = (
    "pc_sessions",
    "pc_in_use_s",
    "pc_open_s",
    "charging_sessions",
    "charging_s",
    "wifi_connections",
    "observed_s",
    "usable_s",
    *ENDED_COLUMNS.values(),
)


def _device_counts(session: Session, site_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for site_id, kind, count in session.execute(
        select(Device.site_id, Device.kind, func.count())
        .where(Device.site_id.in_(site_ids), Device.retired_at.is_(None))
        .group_by(Device.site_id, Device.kind)
    ):
        counts[site_id][kind] = count
    return counts


def _wifi_days(session: Session, selection: Selection, period: Period) -> dict[int, Any]:
    """Per site: distinct devices on an average day, the most at once (hotspots of one site
    added up: a phone seen by two of them counts twice)."""
    per_day = (
        select(
            PortalDay.site_id,
            PortalDay.day,
            func.sum(PortalDay.unique_devices).label("unique"),
            func.sum(PortalDay.peak_clients).label("peak"),
        )
        .where(
            PortalDay.site_id.in_(selection.site_ids),
            PortalDay.day >= period.first_day,
            PortalDay.day <= period.last_day,
        )
        .group_by(PortalDay.site_id, PortalDay.day)
        .subquery()
    )
    rows = session.execute(
        select(
            per_day.c.site_id,
            func.avg(per_day.c.unique).label("unique_per_day"),
            func.max(per_day.c.peak).label("peak"),
        ).group_by(per_day.c.site_id)
    )
    return {row.site_id: row for row in rows}


@dataclass(frozen=True)
class _Tickets:
    opened: int
    solved: int
    median_h: float | None


def _tickets(session: Session, selection: Selection, period: Period) -> dict[int, _Tickets]:
    """Tickets opened in the period per site: how many, how many solved, the median time to
    solve them (calendar hours). Tickets are few: read directly."""
    durations: dict[int, list[float]] = defaultdict(list)
    opened: dict[int, int] = defaultdict(int)
    for site_id, opened_at, solved_at in session.execute(
        select(Ticket.site_id, Ticket.opened_at, Ticket.solved_at).where(
            Ticket.site_id.in_(selection.site_ids),
            Ticket.opened_at >= period.start,
            Ticket.opened_at < period.end,
        )
    ):
        opened[site_id] += 1
        if solved_at is not None:
            durations[site_id].append((solved_at - opened_at).total_seconds() / HOUR_S)
    return {
        site_id: _Tickets(
            count,
            len(durations[site_id]),
            round(statistics.median(durations[site_id]), 1) if durations[site_id] else None,
        )
        for site_id, count in opened.items()
    }


def _verdict(pcs: int, occupancy: float | None) -> str:
    if not pcs or occupancy is None:
        return ""
    if occupancy >= SATURATED:
        return "saturated"
    if occupancy < LITTLE_USED:
        return "little_used"
    return ""


def _summed(row: Any, name: str) -> int:
    return int(getattr(row, name) or 0) if row is not None else 0


def site_ranking(
    session: Session,
    selection: Selection,
    period: Period,
    sums: dict[int, Any] | None = None,
) -> list[SiteUsage]:
    """Every selected site over the period, ranked: the busiest public PCs first (saturated
    places at the top, unused ones at the bottom), sites without public PCs after them by
    phones charged and wifi connections. ``sums``: the site-days already added up."""
    sums = _sums(session, selection, period) if sums is None else sums
    devices = _device_counts(session, selection.site_ids)
    wifi = _wifi_days(session, selection, period)
    tickets = _tickets(session, selection, period)
    figures = []
    for site in selection.sites:
        row = sums.get(site.id)

        def got(name: str, row: Any = row) -> int:
            return _summed(row, name)

        kinds = devices.get(site.id, {})
        pcs = kinds.get(DeviceKind.PC, 0)
        occupancy = _ratio(got("pc_in_use_s"), got("pc_open_s"))
        pc_days = pcs * period.days
        site_wifi = wifi.get(site.id)
        site_tickets = tickets.get(site.id, _Tickets(0, 0, None))
        figures.append(
            SiteUsage(
                site_id=site.id,
                site=site.name,
                organisation=site.organisation.name,
                pcs=pcs,
                kiosks=kinds.get(DeviceKind.KIOSK, 0),
                hotspots=kinds.get(DeviceKind.HOTSPOT, 0),
                pc_sessions=got("pc_sessions"),
                pc_in_use_h=round(got("pc_in_use_s") / HOUR_S, 1),
                occupancy=occupancy,
                sessions_per_pc_day=round(got("pc_sessions") / pc_days, 1) if pc_days else None,
                availability=_ratio(got("usable_s"), got("observed_s")),
                charging_sessions=got("charging_sessions"),
                charging_h=round(got("charging_s") / HOUR_S, 1),
                wifi_connections=got("wifi_connections"),
                wifi_unique_per_day=(
                    round(float(site_wifi.unique_per_day), 1) if site_wifi is not None else None
                ),
                wifi_peak_clients=int(site_wifi.peak or 0) if site_wifi is not None else 0,
                tickets_opened=site_tickets.opened,
                tickets_solved=site_tickets.solved,
                solve_median_h=site_tickets.median_h,
                verdict=_verdict(pcs, occupancy),
            )
        )
    return sorted(
        figures,
        key=lambda f: (
            f.occupancy is None,
            -(f.occupancy or 0.0),
            -(f.charging_sessions + f.wifi_connections),
            f.site,
        ),
    )


# --- the days of the period ------------------------------------------------------------------


@dataclass(frozen=True)
class DayFigures:
    day: date
    pc_sessions: int
    pc_in_use_h: float
    occupancy: float | None
    charging_sessions: int
    wifi_connections: int
    wifi_unique: int  # distinct devices that day, hotspots added up


def daily(session: Session, selection: Selection, period: Period) -> list[DayFigures]:
    """Each day of the period, the selected sites added up (days without figures at zero)."""
    rows = {
        row.day: row
        for row in session.execute(
            select(
                SiteDay.day,
                func.sum(SiteDay.pc_sessions).label("pc_sessions"),
                func.sum(SiteDay.pc_in_use_s).label("pc_in_use_s"),
                func.sum(SiteDay.pc_open_s).label("pc_open_s"),
                func.sum(SiteDay.charging_sessions).label("charging_sessions"),
                func.sum(SiteDay.wifi_connections).label("wifi_connections"),
            )
            .where(
                SiteDay.site_id.in_(selection.site_ids),
                SiteDay.day >= period.first_day,
                SiteDay.day <= period.last_day,
            )
            .group_by(SiteDay.day)
        )
    }
    unique: dict[date, int] = dict(
        session.execute(
            select(PortalDay.day, func.sum(PortalDay.unique_devices))
            .where(
                PortalDay.site_id.in_(selection.site_ids),
                PortalDay.day >= period.first_day,
                PortalDay.day <= period.last_day,
            )
            .group_by(PortalDay.day)
        )
        .tuples()
        .all()
    )
    days = []
    for offset in range(period.days):
        day = period.first_day + timedelta(days=offset)
        row = rows.get(day)
        in_use = int(row.pc_in_use_s or 0) if row is not None else 0
        days.append(
            DayFigures(
                day=day,
                pc_sessions=int(row.pc_sessions or 0) if row is not None else 0,
                pc_in_use_h=round(in_use / HOUR_S, 1),
                occupancy=_ratio(in_use, int(row.pc_open_s or 0)) if row is not None else None,
                charging_sessions=int(row.charging_sessions or 0) if row is not None else 0,
                wifi_connections=int(row.wifi_connections or 0) if row is not None else 0,
                wifi_unique=int(unique.get(day) or 0),
            )
        )
    return days


# --- hours of the week -----------------------------------------------------------------------


@dataclass(frozen=True)
class WeekCell:
    """One hour of the week (local) within opening hours, over the period. ``sessions`` null:
    fewer than 5, hidden, and its occupancy with it."""

    weekday: int  # 0 is Monday
    hour: int  # 0 to 23, local
    sessions: int | None
    occupancy: float | None


@dataclass(frozen=True)
class WeekGrid:
    """Occupancy of the public PCs by hour of the week, only the hours some were open."""

    cells: list[WeekCell]
    hidden: int  # cells with fewer than 5 sessions (or hidden so that none can be recomputed)


def whole_months(period: Period) -> tuple[date, date] | None:
    """The first days of the period's first whole month and of the month after its last one;
    None when no month lies wholly within it."""
    first = period.first_day
    if first.day != 1:
        first = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    after = (period.last_day + timedelta(days=1)).replace(day=1)
    return (first, after) if first < after else None


def week_grid(session: Session, selection: Selection, period: Period) -> WeekGrid:
    """Sessions started and occupancy per hour of the week over the period, small counts
    hidden (controller/statistics/privacy.py).

    The whole months of the period are read from the sites' hours of the week by month (a row
    holds four or five hours), the days at its ends from the site-hours: the same hours, added
    up in one query."""
    sites = selection.site_ids

    def hours(start: datetime, end: datetime) -> Any:
        return select(
            SiteHour.weekhour, SiteHour.pc_sessions, SiteHour.pc_in_use_s, SiteHour.pc_open_s
        ).where(SiteHour.site_id.in_(sites), SiteHour.hour >= start, SiteHour.hour < end)

    months = whole_months(period)
    if months is None:
        parts = [hours(period.start, period.end)]
    else:
        parts = [
            hours(period.start, period.local.midnight(months[0])),
            select(
                SiteWeekHour.weekhour,
                SiteWeekHour.pc_sessions,
                SiteWeekHour.pc_in_use_s,
                SiteWeekHour.pc_open_s,
            ).where(
                SiteWeekHour.site_id.in_(sites),
                SiteWeekHour.month >= months[0],
                SiteWeekHour.month < months[1],
            ),
            hours(period.local.midnight(months[1]), period.end),
        ]
    united = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    rows = session.execute(
        select(
            united.c.weekhour,
            func.sum(united.c.pc_sessions).label("sessions"),
            func.sum(united.c.pc_in_use_s).label("in_use"),
            func.sum(united.c.pc_open_s).label("open"),
        )
        .group_by(united.c.weekhour)
        .having(func.sum(united.c.pc_open_s) > 0)  # closed hours: known empty, left out
        .order_by(united.c.weekhour)
    ).all()
    counts = {int(row.weekhour): int(row.sessions or 0) for row in rows}
    protected = privacy.protect(counts)
    cells = [
        WeekCell(
            weekday=int(row.weekhour) // 24,
            hour=int(row.weekhour) % 24,
            sessions=protected[int(row.weekhour)],
            occupancy=(
                _ratio(int(row.in_use or 0), int(row.open))
                if protected[int(row.weekhour)] is not None
                else None
            ),
        )
        for row in rows
    ]
    return WeekGrid(cells, sum(1 for value in protected.values() if value is None))


# --- a site's devices ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceUsage:
    """One device of a site over the period; counts null: fewer than 5, hidden."""

    device_id: str
    name: str
    kind: DeviceKind
    pc_sessions: int | None
    pc_in_use_h: float | None
    occupancy: float | None
    charging_sessions: int | None
    wifi_connections: int | None
    availability: float | None


def device_table(session: Session, selection: Selection, period: Period) -> list[DeviceUsage]:
    """The devices of the selected site (its current ones, and any that served there in the
    period), by name; nothing for several sites at once."""
    if selection.site is None:
        return []
    site_id = selection.site.id
    sums = {
        row.device_id: row
        for row in session.execute(
            select(
                DeviceHour.device_id,
                func.sum(DeviceHour.pc_sessions).label("pc_sessions"),
                func.sum(DeviceHour.pc_in_use_s).label("pc_in_use_s"),
                func.sum(DeviceHour.pc_open_s).label("pc_open_s"),
                func.sum(DeviceHour.charging_sessions).label("charging_sessions"),
                func.sum(DeviceHour.wifi_connections).label("wifi_connections"),
                func.sum(DeviceHour.observed_s).label("observed_s"),
                func.sum(DeviceHour.usable_s).label("usable_s"),
            )
            .where(
                DeviceHour.site_id == site_id,
                DeviceHour.hour >= period.start,
                DeviceHour.hour < period.end,
            )
            .group_by(DeviceHour.device_id)
        )
    }
    devices = list(
        session.scalars(
            select(Device)
            .where(
                (Device.site_id == site_id) & Device.retired_at.is_(None)
                | Device.id.in_(list(sums))
            )
            .order_by(Device.name, Device.id)
        )
    )

    def total(device: Device, name: str) -> int:
        row = sums.get(device.id)
        return int(getattr(row, name) or 0) if row is not None else 0

    def protected(kind: DeviceKind, name: str) -> dict[str, int | None]:
        return privacy.protect({d.id: total(d, name) for d in devices if d.kind == kind})

    sessions = protected(DeviceKind.PC, "pc_sessions")
    charging = protected(DeviceKind.KIOSK, "charging_sessions")
    wifi = protected(DeviceKind.HOTSPOT, "wifi_connections")
    figures = []
    for device in devices:
        shown_sessions = sessions.get(device.id)
        hidden = device.kind == DeviceKind.PC and shown_sessions is None
        figures.append(
            DeviceUsage(
                device_id=device.id,
                name=device.name,
                kind=DeviceKind(device.kind),
                pc_sessions=shown_sessions,
                pc_in_use_h=(
                    None
                    if hidden or device.kind != DeviceKind.PC
                    else round(total(device, "pc_in_use_s") / HOUR_S, 1)
                ),
                occupancy=(
                    None
                    if hidden
                    else _ratio(total(device, "pc_in_use_s"), total(device, "pc_open_s"))
                ),
                charging_sessions=charging.get(device.id),
                wifi_connections=wifi.get(device.id),
                availability=_ratio(total(device, "usable_s"), total(device, "observed_s")),
            )
        )
    return figures


# --- how sessions ended, and the whole -------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """The selected sites added up over the period."""

    sites: int
    pcs: int
    pc_sessions: int
    pc_in_use_h: float
    occupancy: float | None
    availability: float | None
    charging_sessions: int
    charging_h: float
    wifi_connections: int
    tickets_opened: int
    tickets_solved: int
    ended_by: dict[str, int]  # how the sessions ended, by SessionEnd


def totals(selection: Selection, sums: dict[int, Any], ranking: Sequence[SiteUsage]) -> Totals:
    """The sites' figures added up (``sums``: their site-days added up, as for the ranking)."""

    def add(name: str) -> int:
        return sum(_summed(row, name) for row in sums.values())

    return Totals(
        sites=len(selection.sites),
        pcs=sum(f.pcs for f in ranking),
        pc_sessions=add("pc_sessions"),
        pc_in_use_h=round(add("pc_in_use_s") / HOUR_S, 1),
        occupancy=_ratio(add("pc_in_use_s"), add("pc_open_s")),
        availability=_ratio(add("usable_s"), add("observed_s")),
        charging_sessions=add("charging_sessions"),
        charging_h=round(add("charging_s") / HOUR_S, 1),
        wifi_connections=add("wifi_connections"),
        tickets_opened=sum(f.tickets_opened for f in ranking),
        tickets_solved=sum(f.tickets_solved for f in ranking),
        ended_by={end.value: add(column) for end, column in ENDED_COLUMNS.items()},
    )


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows, for one selection and period."""

    first_day: date
    last_day: date
    organisation_id: int | None
    site_id: int | None
    totals: Totals
    sites: list[SiteUsage]
    days: list[DayFigures]
    week: WeekGrid
    devices: list[DeviceUsage]


def dashboard(
    session: Session,
    viewer: StaffMember,
    *,
    period: Period,
    organisation_id: int | None = None,
    site_id: int | None = None,
) -> Dashboard:
    """The dashboard's figures for ``viewer``: checks who, which places and which period."""
    selection = select_places(session, viewer, organisation_id=organisation_id, site_id=site_id)
    return figures_of(session, selection, period)


def figures_of(session: Session, selection: Selection, period: Period) -> Dashboard:
    """The dashboard's figures for places already checked (the monthly report's too)."""
    sums = _sums(session, selection, period)
    ranking = site_ranking(session, selection, period, sums)
    return Dashboard(
        first_day=period.first_day,
        last_day=period.last_day,
        organisation_id=selection.organisation.id if selection.organisation else None,
        site_id=selection.site.id if selection.site else None,
        totals=totals(selection, sums, ranking),
        sites=ranking,
        days=daily(session, selection, period),
        week=week_grid(session, selection, period),
        devices=device_table(session, selection, period),
    )


SESSION_ENDS = list(SessionEnd)
