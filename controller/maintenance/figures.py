"""Figures for managers: tickets per site and device, and how long teams take to take and to
solve them, per team and priority, over a period of days.

A ticket belongs to the period in which it was **opened** (days in the sites' time zone, both
ends included), whatever became of it since: the figures of a past month do not change when
its last ticket is closed, except for what is still running (open tickets, breaches as of now).

Two clocks for each duration, because they answer two questions:

- **working hours**: the service-level clock, counted in the site's opening hours with the
  time spent waiting left out of the solving time (what the team is held to);
- **calendar hours**: wall-clock time from opening, waiting included (what the site lived).

Only what the caller may see is counted (:func:`tickets.visible_tickets_query`): a team's
technician gets the figures of the organisations their teams serve, a manager those of their
places. Two queries whatever the number of tickets (the tickets with their site, device and
team; their waiting spells) and one per site for its closures, then working time per ticket in
Python (:meth:`WorkingCalendar.elapsed`, well under a millisecond for a ticket that lasted a
few days).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, joinedload

from controller import access
from controller.access import Role
from controller.audit import Actor
from controller.db import utcnow
from controller.errors import DomainError, NotFound, PermissionDenied
from controller.i18n import _
from controller.maintenance import tickets
from controller.maintenance.models import (
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
    team_members,
    team_organisations,
)
from controller.maintenance.working_time import Pause, WorkingCalendar
from controller.places.models import Organisation, Site

PRIORITY_ORDER = list(TicketPriority)  # urgent first, as the lists show them
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Durations:
    """How long ``count`` tickets took, in hours; None where there is nothing to measure."""

    count: int
    median_working_h: float | None
    mean_working_h: float | None
    median_calendar_h: float | None
    mean_calendar_h: float | None


@dataclass(frozen=True)
class SiteFigures:
    site_id: int
    site: str
    organisation_id: int
    tickets: int  # opened in the period
    open: int  # of those, still open now (new, assigned, in progress or waiting)


@dataclass(frozen=True)
class DeviceFigures:
    device_id: str
    device: str
    site_id: int
    tickets: int
    open: int


@dataclass(frozen=True)
class TeamFigures:
    """One team's tickets of one priority; ``team_id`` None (``team`` "") for the tickets no
    team serves, which are worth seeing too."""

    team_id: int | None
    team: str
    priority: TicketPriority
    tickets: int
    take: Durations  # opening to taken (assigned or in progress), for those taken
    solve: Durations  # opening to solved, for those solved (or solved then closed)
    take_breaches: int  # missed (or, still new, are missing) their time to be taken
    solve_breaches: int


@dataclass(frozen=True)
class TicketFigures:
    first_day: date
    last_day: date
    organisation_id: int | None
    tickets: int
    sites: list[SiteFigures]  # most tickets first
    devices: list[DeviceFigures]  # tickets about a device only
    teams: list[TeamFigures]  # by team name, then urgent to low


def ticket_figures(
    session: Session,
    viewer: Actor,
    *,
    first_day: date,
    last_day: date,
    timezone: str,
    organisation_id: int | None = None,
    now: datetime | None = None,
) -> TicketFigures:
    """The figures of the tickets opened from ``first_day`` to ``last_day`` (included) that
    ``viewer`` may see, of one organisation or of all they may see.

    A period that ends before it starts is refused (422), and so is an organisation outside
    the viewer's places (403).
    """
    now = now or utcnow()
    start, end = _period(first_day, last_day, timezone)
    if organisation_id is not None:
        _check_organisation(session, viewer, organisation_id)

    query = tickets.visible_tickets_query(session, viewer).where(
        Ticket.opened_at >= start, Ticket.opened_at < end
    )
    if organisation_id is not None:
        query = query.where(Ticket.organisation_id == organisation_id)
    found = session.scalars(
        query.options(
            joinedload(Ticket.site),
            joinedload(Ticket.device),
            # A team's organisations and members are not needed here: not their two queries.
            joinedload(Ticket.team).lazyload("*"),
        ).order_by(Ticket.id)
    ).all()
    waits = _waiting_spells(session, query.with_only_columns(Ticket.id))

    calendars: dict[int, WorkingCalendar] = {}
    for ticket in found:
        if ticket.site_id not in calendars:
            calendars[ticket.site_id] = tickets.calendar_of(session, ticket.site, timezone)
    return TicketFigures(
        first_day=first_day,
        last_day=last_day,
        organisation_id=organisation_id,
        tickets=len(found),
        sites=_per_site(found),
        devices=_per_device(found),
        teams=_per_team(found, calendars, waits, now),
    )


def _period(first_day: date, last_day: date, timezone: str) -> tuple[datetime, datetime]:
    """The period's bounds in UTC: from the first day's midnight to the midnight after the
    last, in the sites' time zone."""
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
    zone = ZoneInfo(timezone)
    try:
        start = datetime.combine(first_day, time(0), zone).astimezone(UTC)
        end = datetime.combine(last_day + timedelta(days=1), time(0), zone).astimezone(UTC)
    except OverflowError:  # the first or the last day a date can be: no instant to start from
        raise DomainError(
            _("the period must lie between the years 1 and 9999"),
            code="invalid_period",
            status=422,
        ) from None
    return start, end


def _check_organisation(session: Session, viewer: Actor, organisation_id: int) -> None:
    """404 for an organisation that does not exist, 403 for one whose tickets ``viewer`` may
    not see: a technician's are those their teams serve, others' those they cover."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(_("no organisation %(ref)s", ref=repr(organisation_id)))
    if isinstance(viewer, str) or access.is_city_wide(viewer):
        return
    if Role(viewer.role) is Role.TECHNICIAN:
        ours = session.scalar(
            select(team_organisations.c.organisation_id)
            .join(team_members, team_members.c.team_id == team_organisations.c.team_id)
            .where(
                team_members.c.user_id == viewer.id,
                team_organisations.c.organisation_id == organisation_id,
            )
            .limit(1)
        )
    else:
        org_ids, site_ids = access.covered_ids(viewer)
        ours = (
            organisation_id
            if organisation_id in org_ids
            else session.scalar(
                select(Site.organisation_id)
                .where(Site.id.in_(site_ids), Site.organisation_id == organisation_id)
                .limit(1)
            )
        )
    if ours is None:
        raise PermissionDenied(
            _("%(organisation)s is outside the places you cover", organisation=organisation.name)
        )


def _waiting_spells(session: Session, ticket_ids: Select[tuple[int]]) -> dict[int, list[Pause]]:
    """Each ticket's waiting spells, from its history (the last may still run): one query
    over the status changes into or out of waiting, in order."""
    spells: dict[int, list[Pause]] = defaultdict(list)
    started: dict[int, datetime] = {}
    for ticket_id, at, from_status, to_status in session.execute(
        select(
            TicketEvent.ticket_id, TicketEvent.at, TicketEvent.from_status, TicketEvent.to_status
        )
        .where(
            TicketEvent.ticket_id.in_(ticket_ids),
            TicketEvent.kind == TicketEventKind.STATUS,
            or_(
                TicketEvent.to_status == TicketStatus.WAITING,
                TicketEvent.from_status == TicketStatus.WAITING,
            ),
        )
        .order_by(TicketEvent.id)
    ):
        if to_status == TicketStatus.WAITING and ticket_id not in started:
            started[ticket_id] = at
        elif from_status == TicketStatus.WAITING and ticket_id in started:
            spells[ticket_id].append((started.pop(ticket_id), at))
    for ticket_id, since in started.items():
        spells[ticket_id].append((since, None))
    return spells


def _is_open(ticket: Ticket) -> bool:
    return TicketStatus(ticket.status) in tickets.OPEN_STATUSES


def _per_site(found: Sequence[Ticket]) -> list[SiteFigures]:
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    sites: dict[int, Site] = {}
    for ticket in found:
        sites[ticket.site_id] = ticket.site
        counts[ticket.site_id][0] += 1
        counts[ticket.site_id][1] += _is_open(ticket)
    return sorted(
        (
            SiteFigures(site_id, sites[site_id].name, sites[site_id].organisation_id, n, still)
            for site_id, (n, still) in counts.items()
        ),
        key=lambda f: (-f.tickets, f.site, f.site_id),
    )


def _per_device(found: Sequence[Ticket]) -> list[DeviceFigures]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    names: dict[str, tuple[str, int]] = {}
    for ticket in found:
        if ticket.device is None:
            continue
        names[ticket.device.id] = (ticket.device.name, ticket.device.site_id)
        counts[ticket.device.id][0] += 1
        counts[ticket.device.id][1] += _is_open(ticket)
    return sorted(
        (
            DeviceFigures(device_id, *names[device_id], n, still)
            for device_id, (n, still) in counts.items()
        ),
        key=lambda f: (-f.tickets, f.device, f.device_id),
    )


def _per_team(
    found: Sequence[Ticket],
    calendars: dict[int, WorkingCalendar],
    waits: dict[int, list[Pause]],
    now: datetime,
) -> list[TeamFigures]:
    groups: dict[tuple[int | None, TicketPriority], list[Ticket]] = defaultdict(list)
    for ticket in found:
        groups[(ticket.team_id, TicketPriority(ticket.priority))].append(ticket)
    figures = []
    for (team_id, priority), group in groups.items():
        taken: list[tuple[timedelta, timedelta]] = []
        solved: list[tuple[timedelta, timedelta]] = []
        take_breaches = solve_breaches = 0
        for ticket in group:
            calendar = calendars[ticket.site_id]
            if ticket.taken_at is not None:
                taken.append(
                    (
                        calendar.elapsed(ticket.opened_at, ticket.taken_at),
                        ticket.taken_at - ticket.opened_at,
                    )
                )
            if ticket.solved_at is not None:
                pauses = waits.get(ticket.id, [])
                solved.append(
                    (
                        calendar.elapsed(ticket.opened_at, ticket.solved_at, pauses),
                        ticket.solved_at - ticket.opened_at,
                    )
                )
            missed = tickets.breaches(ticket, now)
            take_breaches += missed.take
            solve_breaches += missed.solve
        team = group[0].team
        figures.append(
            TeamFigures(
                team_id=team_id,
                team=team.name if team is not None else "",
                priority=priority,
                tickets=len(group),
                take=_durations(taken),
                solve=_durations(solved),
                take_breaches=take_breaches,
                solve_breaches=solve_breaches,
            )
        )
    return sorted(
        figures, key=lambda f: (f.team_id is None, f.team, PRIORITY_ORDER.index(f.priority))
    )


def _durations(measured: Iterable[tuple[timedelta, timedelta]]) -> Durations:
    """Median and mean of (working, calendar) durations, in hours to the hundredth."""
    pairs = list(measured)
    if not pairs:
        return Durations(0, None, None, None, None)
    working = [w / HOUR for w, _c in pairs]
    calendar = [c / HOUR for _w, c in pairs]
    return Durations(
        count=len(pairs),
        median_working_h=round(statistics.median(working), 2),
        mean_working_h=round(statistics.fmean(working), 2),
        median_calendar_h=round(statistics.median(calendar), 2),
        mean_calendar_h=round(statistics.fmean(calendar), 2),
    )
