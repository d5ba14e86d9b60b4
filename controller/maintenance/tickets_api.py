"""Staff API for tickets: report a problem, follow a repair along its lifecycle, read the teams,
and the managers' figures.

Thin: each route parses its input into typed values (a 400 or 422 naming the field), calls
:mod:`controller.maintenance.tickets` or :mod:`controller.maintenance.figures`, which check
who may, and shapes the answer. A refusal changes nothing: the request's transaction is
committed only after the domain said yes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated

import msgspec
from flask import Blueprint, Response, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from controller.accounts import service as accounts
from controller.accounts.current import signed_in
from controller.accounts.models import User
from controller.api.io import (
    MAX_ROW_ID,
    RowId,
    documented,
    json_response,
    parse_body,
    query_row_id,
)
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.errors import DomainError, NotFound
from controller.fleet import service as fleet
from controller.fleet.models import Device
from controller.i18n import _
from controller.maintenance import teams, tickets
from controller.maintenance.figures import TicketFigures, ticket_figures
from controller.maintenance.models import (
    Team,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
)
from controller.places import service as places
from controller.places.models import Site

tickets_api = Blueprint("tickets", __name__)

# Not <int(max=…)>: the OpenAPI builder reads only a converter's name. Ids past what the
# database holds are refused in _ticket.
TICKET = "/tickets/<int:ticket_id>"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DEVICE_ID_MAX = 64

# Text a person writes. Never a NUL character: PostgreSQL cannot store one in a text column,
# and nobody types it.
NO_NUL = "^[^\\x00]*$"
Description = Annotated[str, msgspec.Meta(max_length=tickets.DESCRIPTION_MAX, pattern=NO_NUL)]
Comment = Annotated[str, msgspec.Meta(max_length=tickets.COMMENT_MAX, pattern=NO_NUL)]


class TicketIn(msgspec.Struct, forbid_unknown_fields=True):
    """A problem reported from a device's page (or about the site itself, without a device).
    ``category`` is what the reporter tapped; ``alert`` is monitoring's own."""

    site_id: RowId
    category: TicketCategory
    description: Description  # a few words; required for "other"
    device_id: Annotated[str, msgspec.Meta(min_length=1, max_length=DEVICE_ID_MAX)] | None = None
    priority: TicketPriority = TicketPriority.NORMAL


class StatusIn(msgspec.Struct, forbid_unknown_fields=True):
    to: TicketStatus
    comment: Comment = ""


class AssignIn(msgspec.Struct, forbid_unknown_fields=True):
    user: Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=NO_NUL)]  # username


class CommentIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=tickets.COMMENT_MAX, pattern=NO_NUL)]


class BreachesOut(msgspec.Struct):
    take: bool  # not taken in time (or, still new, past its time to be taken)
    solve: bool  # not solved in time; stands still while the ticket waits


class EventOut(msgspec.Struct):
    id: int
    at: datetime
    actor: str  # a username, or "monitoring"
    kind: TicketEventKind
    from_status: TicketStatus | None
    to_status: TicketStatus | None
    text: str


class TicketOut(msgspec.Struct):
    id: int
    organisation_id: int
    site_id: int
    site: str
    device_id: str | None
    device: str | None
    team_id: int | None  # None: no team serves the place (city IT routes it)
    team: str | None
    category: TicketCategory
    priority: TicketPriority
    status: TicketStatus
    title: str
    description: str
    opened_by: str
    assignee: str | None
    opened_at: datetime
    taken_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None
    take_due_at: datetime
    solve_due_at: datetime  # moves later by the opening hours spent waiting
    waiting_since: datetime | None
    cause_gone_at: datetime | None  # opened by monitoring: when its alerts resolved
    breaches: BreachesOut


class TicketDetailOut(TicketOut):
    events: list[EventOut]


class OrganisationRef(msgspec.Struct):
    id: int
    name: str


class TeamOut(msgspec.Struct):
    id: int
    name: str
    email: str
    kinds: list[str]  # the kinds of device it repairs; empty: every kind
    organisations: list[OrganisationRef]
    members: list[str]  # usernames, to assign a ticket to


def _ticket_out(ticket: Ticket, now: datetime) -> TicketOut:
    missed = tickets.breaches(ticket, now)
    return TicketOut(
        id=ticket.id,
        organisation_id=ticket.organisation_id,
        site_id=ticket.site_id,
        site=ticket.site.name,
        device_id=ticket.device_id,
        device=ticket.device.name if ticket.device is not None else None,
        team_id=ticket.team_id,
        team=ticket.team.name if ticket.team is not None else None,
        category=TicketCategory(ticket.category),
        priority=TicketPriority(ticket.priority),
        status=TicketStatus(ticket.status),
        title=ticket.title,
        description=ticket.description,
        opened_by=ticket.opened_by,
        assignee=ticket.assignee.username if ticket.assignee is not None else None,
        opened_at=ticket.opened_at,
        taken_at=ticket.taken_at,
        solved_at=ticket.solved_at,
        closed_at=ticket.closed_at,
        take_due_at=ticket.take_due_at,
        solve_due_at=ticket.solve_due_at,
        waiting_since=ticket.waiting_since,
        cause_gone_at=ticket.cause_gone_at,
        breaches=BreachesOut(take=missed.take, solve=missed.solve),
    )


def _event_out(event: TicketEvent) -> EventOut:
    return EventOut(
        id=event.id,
        at=event.at,
        actor=event.actor,
        kind=TicketEventKind(event.kind),
        from_status=TicketStatus(event.from_status) if event.from_status else None,
        to_status=TicketStatus(event.to_status) if event.to_status else None,
        text=event.text,
    )


def _detail_out(ticket: Ticket) -> TicketDetailOut:
    return TicketDetailOut(
        **msgspec.structs.asdict(_ticket_out(ticket, utcnow())),
        events=[_event_out(event) for event in ticket.events],
    )


def _preload(session: Session, found: Sequence[Ticket]) -> list[object]:
    """Load the sites, devices, teams and assignees of ``found`` in four queries (their names
    only are read: none of their own collections), so that each ticket's comes from the
    session rather than from a query per ticket. Keep what this returns while reading them:
    the session holds its objects weakly."""
    loaded: list[object] = []
    for model, ids in (
        (Site, {t.site_id for t in found}),
        (Device, {t.device_id for t in found} - {None}),
        (Team, {t.team_id for t in found} - {None}),
        (User, {t.assignee_id for t in found} - {None}),
    ):
        if ids:
            query = select(model).where(model.id.in_(ids)).options(lazyload("*"))
            loaded.extend(session.scalars(query))
    return loaded


def _ticket(session: Session, user: User, ticket_id: int) -> Ticket:
    """The ticket ``user`` may see: 404 when there is none (an id past what the database
    holds included: its driver would fail on it), 403 when it is not theirs."""
    if ticket_id > MAX_ROW_ID:
        raise NotFound(_("no ticket %(id)s", id=ticket_id))
    return tickets.get_ticket(session, user, ticket_id)


def _timezone() -> str:
    return settings_of(current_app).timezone


def _row_id(name: str) -> int | None:
    """``?name=`` as a row id, None when absent; when it is not one, a 400 in the reader's
    language."""
    try:
        return query_row_id(name)
    except DomainError:
        raise DomainError(
            _(
                "%(name)s must be a whole number from 1, got %(value)s",
                name=name,
                value=repr(request.args.get(name, "")[:40]),
            )
        ) from None


# -- tickets ------------------------------------------------------------------------------------


@tickets_api.get("/tickets")
@documented(
    "Tickets the caller may see, most urgent first; ?status=open (default: new to solved) or "
    "all, ?site=, ?team=, ?device= narrow them",
    response=list[TicketOut],
    auth="staff",
    errors={400: "bad filter"},
)
def list_tickets() -> Response:
    status = request.args.get("status", "open")
    if status not in ("open", "all"):
        raise DomainError(_("status must be open or all, got %(value)s", value=repr(status[:40])))
    device_id = request.args.get("device") or None
    if device_id is not None and len(device_id) > DEVICE_ID_MAX:
        raise DomainError(
            _("device must be a device id, at most %(max)s characters", max=DEVICE_ID_MAX)
        )
    session = db_session()
    found = tickets.list_tickets(
        session,
        signed_in(),
        open_only=status == "open",
        site_id=_row_id("site"),
        team_id=_row_id("team"),
        device_id=device_id,
    )
    _kept = _preload(session, found)  # held until the answer is made
    now = utcnow()
    return json_response([_ticket_out(ticket, now) for ticket in found])


@tickets_api.post("/tickets")
@documented(
    "Report a problem of a site or of one of its devices: a ticket routed to the team that "
    "serves the place, due in the site's opening hours",
    body=TicketIn,
    response=TicketDetailOut,
    status=201,
    auth="staff",
    errors={
        400: "the device is not at that site, or words are missing",
        403: "outside the places you may report problems for",
        404: "no such site or device",
        422: "a field is missing or not valid",
    },
)
def open_ticket() -> Response:
    body = parse_body(TicketIn)
    if body.category is TicketCategory.ALERT:
        raise DomainError(
            _(
                "category %(category)s is monitoring's own: choose what is wrong",
                category=repr(str(body.category)),
            ),
            code="invalid_request",
            status=422,
        )
    user = signed_in()
    session = db_session()
    site = places.find_site(session, body.site_id)
    device = fleet.get_device(session, user, body.device_id) if body.device_id is not None else None
    ticket = tickets.open_ticket(
        session,
        user,
        site=site,
        device=device,
        category=body.category,
        description=body.description,
        priority=body.priority,
        timezone=_timezone(),
    )
    session.commit()
    return json_response(_detail_out(ticket), 201)


@tickets_api.get(TICKET)
@documented(
    "One ticket, with its history and whether it missed its service levels",
    response=TicketDetailOut,
    auth="staff",
    errors={403: "outside your teams or places", 404: "no such ticket"},
)
def get_ticket(ticket_id: int) -> Response:
    return json_response(_detail_out(_ticket(db_session(), signed_in(), ticket_id)))


@tickets_api.post(f"{TICKET}/status")
@documented(
    "Move a ticket along its lifecycle (new, assigned, in_progress, waiting, solved, closed), "
    "with an optional comment; waiting pauses the solving clock",
    body=StatusIn,
    response=TicketDetailOut,
    auth="staff",
    errors={
        400: "comment too long",
        403: "not a technician of the ticket's team",
        404: "no such ticket",
        409: "the lifecycle does not go there from the ticket's status",
    },
)
def change_status(ticket_id: int) -> Response:
    body = parse_body(StatusIn)
    user = signed_in()
    session = db_session()
    ticket = _ticket(session, user, ticket_id)
    tickets.change_status(
        session, user, ticket, body.to, comment=body.comment, timezone=_timezone()
    )
    session.commit()
    return json_response(_detail_out(ticket))


@tickets_api.post(f"{TICKET}/assign")
@documented(
    "Give a ticket to a technician of a team serving its place (by username); a new ticket "
    "becomes assigned",
    body=AssignIn,
    response=TicketDetailOut,
    auth="staff",
    errors={
        400: "that person does not repair for this place",
        403: "not a technician of the ticket's team",
        404: "no such ticket or user",
        409: "the ticket is solved or closed",
    },
)
def assign_ticket(ticket_id: int) -> Response:
    body = parse_body(AssignIn)
    user = signed_in()
    session = db_session()
    ticket = _ticket(session, user, ticket_id)
    tickets.assign(session, user, ticket, accounts.find_user(session, body.user))
    session.commit()
    return json_response(_detail_out(ticket))


@tickets_api.post(f"{TICKET}/comments")
@documented(
    "Comment on a ticket one may see",
    body=CommentIn,
    response=EventOut,
    status=201,
    auth="staff",
    errors={
        400: "nothing written, or too long",
        403: "outside your teams or places",
        404: "no such ticket",
        409: "the ticket is closed",
    },
)
def comment_ticket(ticket_id: int) -> Response:
    body = parse_body(CommentIn)
    user = signed_in()
    session = db_session()
    ticket = _ticket(session, user, ticket_id)
    event = tickets.add_comment(session, user, ticket, body.text)
    session.commit()
    return json_response(_event_out(event), 201)


# -- teams --------------------------------------------------------------------------------------


@tickets_api.get("/teams")
@documented(
    "Maintenance teams: the organisations each serves, the kinds of device it repairs, its "
    "members (all of them for city IT; the caller's own and those serving their places else)",
    response=list[TeamOut],
    auth="staff",
)
def list_teams() -> Response:
    return json_response(
        [
            TeamOut(
                id=team.id,
                name=team.name,
                email=team.email,
                kinds=list(team.kinds),
                organisations=[OrganisationRef(o.id, o.name) for o in team.organisations],
                members=[member.username for member in team.members],
            )
            for team in teams.visible_teams(db_session(), signed_in())
        ]
    )


# -- figures ------------------------------------------------------------------------------------


def _day(name: str) -> date:
    """``?name=`` as a day written YYYY-MM-DD (ISO 8601's other forms are refused: a person
    reading the URL should see the day)."""
    value = request.args.get(name, "")
    if not value:
        raise DomainError(_("give %(name)s, a day as YYYY-MM-DD", name=name))
    refusal = DomainError(
        _(
            "%(name)s must be a day as YYYY-MM-DD, got %(value)s",
            name=name,
            value=repr(value[:40]),
        )
    )
    if not _DAY.fullmatch(value):
        raise refusal
    try:
        return date.fromisoformat(value)
    except ValueError:  # 2026-02-30
        raise refusal from None


@tickets_api.get("/maintenance/figures")
@documented(
    "Figures for managers over ?from=YYYY-MM-DD&to=YYYY-MM-DD (days included, tickets by the "
    "day they were opened), of one ?organisation= or of all the caller may see: tickets per "
    "site and device, time to take and to solve them per team and priority (median and mean, "
    "in working and calendar hours), breaches",
    response=TicketFigures,
    auth="staff",
    errors={
        400: "from or to missing or not a day, or organisation not a number",
        403: "organisation outside your places",
        404: "no such organisation",
        422: "the period ends before it starts",
    },
)
def maintenance_figures() -> Response:
    first_day, last_day = _day("from"), _day("to")
    return json_response(
        ticket_figures(
            db_session(),
            signed_in(),
            first_day=first_day,
            last_day=last_day,
            organisation_id=_row_id("organisation"),
            timezone=_timezone(),
        )
    )
