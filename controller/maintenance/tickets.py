"""Tickets: a repair followed to its end, by the team that serves the place.

GLPI's fixed lifecycle (new → assigned → in progress → waiting → solved → closed), every step
audited and kept in the ticket's history. A ticket is **routed** to the team serving its
organisation whose device kinds name the device's (a network team for hotspots), else to one
serving it for every kind. **Service levels** per priority — time to take the ticket, time to
solve it — are counted in the site's opening hours (:mod:`controller.maintenance.working_time`),
the solving clock paused while the ticket waits.

Who sees what: an admin, every ticket; a technician, those of the organisations their teams
serve and nothing else; a mediator or a manager, those of the places they cover. Technicians of
the team (and admins) move a ticket along; whoever sees one may comment on it, and whoever
reported it may reopen it once solved.

Monitoring opens tickets too (:func:`ticket_for_alert`): one ticket per ongoing problem of a
device, later alerts of the device attach to it, and it says when their cause is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from controller import access, audit, signals
from controller.access import Role
from controller.accounts.models import User
from controller.audit import Actor
from controller.db import utcnow
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied
from controller.fleet.models import Device
from controller.i18n import _
from controller.maintenance import notices
from controller.maintenance.models import (
    Alert,
    AlertKind,
    Team,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
    team_members,
    team_organisations,
)
from controller.maintenance.words import STATUS_WORDS
from controller.maintenance.working_time import WorkingCalendar
from controller.places import service as places
from controller.places.models import Site
from controller.places.schedule import closures_of

MONITORING = "monitoring"  # the actor of what monitoring does to a ticket


@dataclass(frozen=True)
class ServiceLevel:
    take: timedelta  # from opening to someone taking it (assigned or in progress)
    solve: timedelta  # from opening to solved, time spent waiting not counted


# Counted in opening hours: "4 h" is half a working day at a library open 10:00-18:00.
SERVICE_LEVELS = {
    TicketPriority.URGENT: ServiceLevel(timedelta(hours=1), timedelta(hours=4)),
    TicketPriority.HIGH: ServiceLevel(timedelta(hours=2), timedelta(hours=8)),
    TicketPriority.NORMAL: ServiceLevel(timedelta(hours=4), timedelta(hours=16)),
    TicketPriority.LOW: ServiceLevel(timedelta(hours=8), timedelta(hours=40)),
}

# Where a ticket may go from each state. Solved → in progress is the reporter's "it still does
# not work"; closed is for good.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset({TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS}),
    TicketStatus.ASSIGNED: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.WAITING, TicketStatus.SOLVED}
    ),
    TicketStatus.IN_PROGRESS: frozenset(
        {TicketStatus.WAITING, TicketStatus.SOLVED, TicketStatus.ASSIGNED}
    ),
    TicketStatus.WAITING: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.SOLVED, TicketStatus.ASSIGNED}
    ),
    TicketStatus.SOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.IN_PROGRESS}),
    TicketStatus.CLOSED: frozenset(),
}
OPEN_STATUSES = frozenset(
    {TicketStatus.NEW, TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS, TicketStatus.WAITING}
)

# The priority of a ticket monitoring opens: residents cannot use the place as it should be.
ALERT_PRIORITIES = {
    AlertKind.WIPE_INCOMPLETE: TicketPriority.HIGH,  # a PC locked for the public
    AlertKind.PORTAL_DOWN: TicketPriority.URGENT,  # no wifi for anyone
    AlertKind.OFFLINE: TicketPriority.HIGH,
    AlertKind.DISK_FULL: TicketPriority.HIGH,
    AlertKind.LOCKER_OVERTIME: TicketPriority.HIGH,  # a resident's phone, shut in
    AlertKind.LOCKER_FORGOTTEN: TicketPriority.HIGH,
    AlertKind.LOCKER_DRIVER: TicketPriority.URGENT,  # no locker opens: phones shut in
}
DESCRIPTION_MAX = 2000
COMMENT_MAX = 2000


# -- routing and service levels ---------------------------------------------------------------


def route(session: Session, organisation_id: int, kind: str | None) -> Team | None:
    """The team for a ticket of ``organisation_id`` about a device of ``kind`` (None: no
    device): one naming that kind first, then one serving every kind; by name when several."""
    teams = session.scalars(
        select(Team)
        .join(team_organisations, team_organisations.c.team_id == Team.id)
        .where(team_organisations.c.organisation_id == organisation_id)
        .order_by(Team.name)
    ).all()
    if kind is not None:
        for team in teams:
            if kind in team.kinds:
                return team
    return next((team for team in teams if not team.kinds), None)


def calendar_of(session: Session, site: Site, timezone: str) -> WorkingCalendar:
    """The working hours the site's tickets count in; bad hours count calendar time (the site
    page already says its hours are wrong, and a ticket must still get a due date)."""
    try:
        return WorkingCalendar(site.opening_hours, timezone, closures_of(site, session))
    except DomainError:
        return WorkingCalendar("", timezone)


def _pauses(ticket: Ticket) -> list[tuple[datetime, datetime | None]]:
    """The ticket's waiting intervals, from its history (the last may still run)."""
    pauses: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    for event in ticket.events:
        if event.kind != TicketEventKind.STATUS:
            continue
        if event.to_status == TicketStatus.WAITING and started is None:
            started = event.at
        elif event.from_status == TicketStatus.WAITING and started is not None:
            pauses.append((started, event.at))
            started = None
    if started is not None:
        pauses.append((started, None))
    return pauses


def _set_due_times(session: Session, ticket: Ticket, site: Site, timezone: str) -> None:
    calendar = calendar_of(session, site, timezone)
    level = SERVICE_LEVELS[TicketPriority(ticket.priority)]
    ticket.take_due_at = calendar.add(ticket.opened_at, level.take)
    pauses = [(start, end) for start, end in _pauses(ticket) if end is not None]
    ticket.solve_due_at = calendar.due(ticket.opened_at, level.solve, pauses) or ticket.solve_due_at


@dataclass(frozen=True)
class Breaches:
    take: bool
    solve: bool

    @property
    def any(self) -> bool:
        return self.take or self.solve


def breaches(ticket: Ticket, now: datetime) -> Breaches:
    """Whether the ticket missed (or is missing) its times; the solving clock stands still
    while the ticket waits."""
    status = TicketStatus(ticket.status)  # a plain string when read back from the database
    taken = ticket.taken_at or (None if status is TicketStatus.NEW else ticket.opened_at)
    take = (taken or now) > ticket.take_due_at
    if ticket.solved_at is not None and status in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        solve = ticket.solved_at > ticket.solve_due_at
    elif status is TicketStatus.WAITING:
        solve = ticket.waiting_since is not None and ticket.waiting_since > ticket.solve_due_at
    else:
        solve = now > ticket.solve_due_at
    return Breaches(take=take, solve=solve)


# -- who sees and does what ---------------------------------------------------------------------


def team_ids_of(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(select(team_members.c.team_id).where(team_members.c.user_id == user.id))
    )


def visible_tickets_query(session: Session, viewer: Actor) -> Select[tuple[Ticket]]:
    """The tickets ``viewer`` may see, as a query to refine."""
    query = select(Ticket)
    if isinstance(viewer, str) or access.is_city_wide(viewer):
        return query
    if Role(viewer.role) is Role.TECHNICIAN:
        served = (
            select(team_organisations.c.organisation_id)
            .join(team_members, team_members.c.team_id == team_organisations.c.team_id)
            .where(team_members.c.user_id == viewer.id)
        )
        return query.where(Ticket.organisation_id.in_(served))
    visible = places.visible_sites_query(viewer).with_only_columns(Site.id)
    return query.where(Ticket.site_id.in_(visible))


def get_ticket(session: Session, viewer: Actor, ticket_id: int) -> Ticket:
    """A ticket ``viewer`` may see; 404 when there is none, 403 when it is not theirs."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(_("no ticket %(id)s", id=ticket_id))
    if not may_see(session, viewer, ticket):
        raise PermissionDenied(
            _("ticket %(id)s belongs to a team or a place you are not part of", id=ticket_id)
        )
    return ticket


def may_see(session: Session, viewer: Actor, ticket: Ticket) -> bool:
    query = visible_tickets_query(session, viewer).where(Ticket.id == ticket.id)
    return session.scalar(query.with_only_columns(Ticket.id)) is not None


def may_work_on(session: Session, viewer: Actor, ticket: Ticket) -> bool:
    """Admins, and technicians of a team serving the ticket's organisation, move it along."""
    if isinstance(viewer, str) or access.is_city_wide(viewer):
        return True
    if Role(viewer.role) is not Role.TECHNICIAN or not viewer.active:
        return False
    return may_see(session, viewer, ticket)


def may_report(viewer: Actor, site: Site) -> bool:
    """Mediators, technicians and admins report problems of the places they cover."""
    if isinstance(viewer, str):
        return True
    return Role(viewer.role) is not Role.MANAGER and access.covers_site(viewer, site)


# -- opening ------------------------------------------------------------------------------------


def open_ticket(
    session: Session,
    actor: Actor,
    *,
    site: Site,
    category: TicketCategory,
    description: str = "",
    device: Device | None = None,
    priority: TicketPriority = TicketPriority.NORMAL,
    title: str = "",
    timezone: str,
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket about ``device`` (or the site itself), routed to its team."""
    now = now or utcnow()
    if not may_report(actor, site):
        raise PermissionDenied(
            _("%(site)s is outside the places you may report problems for", site=site.name)
        )
    if device is not None and device.site_id != site.id:
        raise DomainError(_("%(device)s is not at %(site)s", device=device.name, site=site.name))
    description = description.strip()
    if len(description) > DESCRIPTION_MAX:
        raise DomainError(
            _("the description is longer than %(max)s characters", max=DESCRIPTION_MAX)
        )
    if category is TicketCategory.ALERT and actor != MONITORING:
        raise DomainError(_("only monitoring opens tickets for an alert; choose what is wrong"))
    if category is TicketCategory.OTHER and not description:
        raise DomainError(_("say in a few words what is wrong"))
    team = route(session, site.organisation_id, device.kind if device is not None else None)
    ticket = Ticket(
        organisation_id=site.organisation_id,
        site_id=site.id,
        device_id=device.id if device is not None else None,
        team_id=team.id if team is not None else None,
        category=category,
        priority=priority,
        status=TicketStatus.NEW,
        title=(title or default_title(category, device, site))[:200],
        description=description,
        reporter_id=audit.actor_id(actor),
        opened_by=audit.actor_name(actor),
        opened_at=now,
    )
    ticket.site = site
    ticket.device = device
    ticket.team = team
    _set_due_times(session, ticket, site, timezone)
    session.add(ticket)
    ticket.events.append(
        TicketEvent(at=now, actor=audit.actor_name(actor), kind=TicketEventKind.OPENED)
    )
    session.flush()
    audit.record(
        session,
        actor,
        "ticket.open",
        "ticket",
        ticket.id,
        ticket.title,
        site_id=site.id,
        team=team.name if team is not None else None,
        priority=str(priority),
    )
    notices.ticket_opened(session, ticket, ticket.events[0])
    signals.send_after_commit(
        session, signals.ticket_changed, str(ticket.id), site_id=site.id, event="opened"
    )
    return ticket


def default_title(category: TicketCategory, device: Device | None, site: Site) -> str:
    """The title people would write; stored in English like every stored message, shown from
    the category in the reader's language."""
    what = {
        TicketCategory.PRINTER: "Printer jammed or empty",
        TicketCategory.INPUT: "Keyboard or mouse",
        TicketCategory.SCREEN: "Screen",
        TicketCategory.WONT_START: "Will not start",
        TicketCategory.NETWORK: "Network",
        TicketCategory.OTHER: "Problem",
        TicketCategory.ALERT: "Alert",
    }[category]
    return f"{what}: {device.name if device is not None else site.name}"


def ticket_for_alert(session: Session, alert: Alert, timezone: str, now: datetime) -> Ticket:
    """The ticket following ``alert``: the device's ticket still open, else a new one."""
    device = alert.device
    ticket = session.scalars(
        select(Ticket)
        .where(Ticket.device_id == device.id, Ticket.status.in_(list(OPEN_STATUSES)))
        .order_by(Ticket.opened_at.desc())
    ).first()
    if ticket is None:
        ticket = open_ticket(
            session,
            MONITORING,
            site=device.site,
            device=device,
            category=TicketCategory.ALERT,
            priority=ALERT_PRIORITIES.get(AlertKind(alert.kind), TicketPriority.NORMAL),
            title=f"{device.name}: {alert.kind}",
            description=alert.message,
            timezone=timezone,
            now=now,
        )
    else:
        ticket.events.append(
            TicketEvent(at=now, actor=MONITORING, kind=TicketEventKind.ALERT, text=alert.message)
        )
        ticket.cause_gone_at = None
        signals.send_after_commit(
            session, signals.ticket_changed, str(ticket.id), site_id=ticket.site_id, event="alert"
        )
    alert.ticket_id = ticket.id
    return ticket


def alert_gone(session: Session, alert: Alert, now: datetime) -> None:
    """``alert`` resolved by itself: once none of its ticket's alerts is open, the ticket says
    its cause is gone (a person still says whether it is solved)."""
    if alert.ticket_id is None:
        return
    ticket = session.get(Ticket, alert.ticket_id)
    if ticket is None or TicketStatus(ticket.status) is TicketStatus.CLOSED:
        return
    still_open = session.scalar(
        select(Alert.id).where(
            Alert.ticket_id == ticket.id, Alert.resolved_at.is_(None), Alert.id != alert.id
        )
    )
    if still_open is None:
        ticket.cause_gone_at = now
        ticket.events.append(
            TicketEvent(
                at=now, actor=MONITORING, kind=TicketEventKind.CAUSE_GONE, text=alert.resolution
            )
        )
        signals.send_after_commit(
            session, signals.ticket_changed, str(ticket.id), site_id=ticket.site_id, event="cause"
        )


# -- moving along -------------------------------------------------------------------------------


def change_status(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    to: TicketStatus,
    *,
    comment: str = "",
    timezone: str,
    now: datetime | None = None,
) -> Ticket:
    """Move ``ticket`` to ``to`` if its lifecycle allows it and ``actor`` may."""
    now = now or utcnow()
    current = TicketStatus(ticket.status)
    reopening = current is TicketStatus.SOLVED and to is TicketStatus.IN_PROGRESS
    closing = current is TicketStatus.SOLVED and to is TicketStatus.CLOSED
    is_reporter = not isinstance(actor, str) and actor.id == ticket.reporter_id
    if not (may_work_on(session, actor, ticket) or ((reopening or closing) and is_reporter)):
        raise PermissionDenied(_("only the technicians of the ticket's team may move it along"))
    if to not in TRANSITIONS[current]:
        raise Conflict(
            _(
                "a ticket cannot go from %(from)s to %(to)s",
                **{"from": status_word(current), "to": status_word(to)},
            )
        )
    if to is TicketStatus.ASSIGNED and ticket.assignee_id is None:
        raise Conflict(_("choose who takes the ticket to assign it"))
    _check_comment(comment)
    if current is TicketStatus.NEW and ticket.taken_at is None:
        ticket.taken_at = now
    if to is TicketStatus.IN_PROGRESS and ticket.assignee_id is None and isinstance(actor, User):
        ticket.assignee_id = actor.id
    ticket.status = to
    ticket.events.append(
        TicketEvent(
            at=now,
            actor=audit.actor_name(actor),
            kind=TicketEventKind.STATUS,
            from_status=current,
            to_status=to,
            text=comment.strip(),
        )
    )
    if to is TicketStatus.WAITING:
        ticket.waiting_since = now
    elif current is TicketStatus.WAITING:
        ticket.waiting_since = None
        _set_due_times(session, ticket, ticket.site, timezone)  # the pause pushes it later
    if to is TicketStatus.SOLVED:
        ticket.solved_at = now
        session.flush()  # the event's id names its e-mail
        notices.ticket_solved(session, ticket, ticket.events[-1])
    elif reopening:
        ticket.solved_at = None
    if to is TicketStatus.CLOSED:
        ticket.closed_at = now
        device = ticket.device
        if device is not None and device.out_of_service_since is not None:
            from controller.maintenance.out_of_service import set_out_of_service

            set_out_of_service(session, f"ticket {ticket.id}", device, False, now=now)
    audit.record(
        session,
        actor,
        "ticket.status",
        "ticket",
        ticket.id,
        f"{current} -> {to}",
        **{"from": str(current), "to": str(to)},
    )
    signals.send_after_commit(
        session, signals.ticket_changed, str(ticket.id), site_id=ticket.site_id, event=str(to)
    )
    return ticket


def assign(
    session: Session, actor: Actor, ticket: Ticket, assignee: User, now: datetime | None = None
) -> Ticket:
    """Give ``ticket`` to a technician of its team (or an admin); a new ticket becomes assigned."""
    now = now or utcnow()
    if not may_work_on(session, actor, ticket):
        raise PermissionDenied(_("only the technicians of the ticket's team may assign it"))
    if TicketStatus(ticket.status) in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        raise Conflict(_("a solved or closed ticket is not assigned any more"))
    if not may_work_on(session, assignee, ticket):
        raise DomainError(
            _("%(user)s is not a technician of a team serving this place", user=assignee.username)
        )
    ticket.assignee_id = assignee.id
    ticket.assignee = assignee
    ticket.events.append(
        TicketEvent(
            at=now,
            actor=audit.actor_name(actor),
            kind=TicketEventKind.ASSIGNED,
            text=assignee.username,
        )
    )
    if ticket.status == TicketStatus.NEW:
        ticket.taken_at = ticket.taken_at or now
        ticket.events.append(
            TicketEvent(
                at=now,
                actor=audit.actor_name(actor),
                kind=TicketEventKind.STATUS,
                from_status=TicketStatus.NEW,
                to_status=TicketStatus.ASSIGNED,
            )
        )
        ticket.status = TicketStatus.ASSIGNED
    audit.record(session, actor, "ticket.assign", "ticket", ticket.id, assignee.username)
    signals.send_after_commit(
        session, signals.ticket_changed, str(ticket.id), site_id=ticket.site_id, event="assigned"
    )
    return ticket


def add_comment(
    session: Session, actor: Actor, ticket: Ticket, text: str, now: datetime | None = None
) -> TicketEvent:
    """A comment by anyone who sees the ticket."""
    text = text.strip()
    if not text:
        raise DomainError(_("write something to comment"))
    _check_comment(text)
    if TicketStatus(ticket.status) is TicketStatus.CLOSED:
        raise Conflict(_("a closed ticket takes no more comments"))
    event = TicketEvent(
        at=now or utcnow(), actor=audit.actor_name(actor), kind=TicketEventKind.COMMENT, text=text
    )
    ticket.events.append(event)
    audit.record(session, actor, "ticket.comment", "ticket", ticket.id, text[:200])
    signals.send_after_commit(
        session, signals.ticket_changed, str(ticket.id), site_id=ticket.site_id, event="comment"
    )
    return event


def _check_comment(text: str) -> None:
    if len(text) > COMMENT_MAX:
        raise DomainError(_("a comment is at most %(max)s characters", max=COMMENT_MAX))


def status_word(status: TicketStatus | str) -> str:
    return str(STATUS_WORDS[TicketStatus(status)])


def list_tickets(
    session: Session,
    viewer: Actor,
    *,
    open_only: bool = True,
    site_id: int | None = None,
    device_id: str | None = None,
    team_id: int | None = None,
    limit: int = 200,
) -> Sequence[Ticket]:
    """Tickets ``viewer`` may see, most urgent first (open ones by due time)."""
    query = visible_tickets_query(session, viewer)
    if open_only:
        query = query.where(Ticket.status.in_(list(OPEN_STATUSES | {TicketStatus.SOLVED})))
    if site_id is not None:
        query = query.where(Ticket.site_id == site_id)
    if device_id is not None:
        query = query.where(Ticket.device_id == device_id)
    if team_id is not None:
        query = query.where(Ticket.team_id == team_id)
    return session.scalars(query.order_by(Ticket.solve_due_at, Ticket.id).limit(limit)).all()


def teams_of_user(session: Session, user: User) -> Sequence[Team]:
    return session.scalars(
        select(Team)
        .join(team_members, team_members.c.team_id == Team.id)
        .where(team_members.c.user_id == user.id)
        .order_by(Team.name)
    ).all()


def technicians_for(session: Session, ticket: Ticket) -> Sequence[User]:
    """Who may take ``ticket``: the members of the teams serving its organisation."""
    served_by = select(team_organisations.c.team_id).where(
        team_organisations.c.organisation_id == ticket.organisation_id
    )
    return session.scalars(
        select(User)
        .join(team_members, team_members.c.user_id == User.id)
        .where(team_members.c.team_id.in_(served_by), User.active.is_(True))
        .where(or_(User.role == Role.TECHNICIAN, User.role == Role.ADMIN))
        .distinct()
        .order_by(User.username)
    ).all()
