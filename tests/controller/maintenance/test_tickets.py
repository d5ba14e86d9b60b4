"""Tickets (controller/maintenance/tickets.py): routing to the team, service levels in opening
hours, GLPI's lifecycle, alerts that open and join tickets, who sees what, one mail per event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agent.protocol import DeviceKind
from controller.access import Role
from controller.errors import Conflict, DomainError, PermissionDenied
from controller.maintenance import service as alerts
from controller.maintenance import teams, tickets
from controller.maintenance.models import (
    AlertKind,
    Mail,
    TicketCategory,
    TicketEventKind,
    TicketPriority,
    TicketStatus,
)
from tests.factories import make_device, make_organisation, make_site, make_user

PARIS = "Europe/Paris"
# A Friday, 17:00 in Grenoble (UTC+1 in December).
FRIDAY_5PM = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


@pytest.fixture
def city(db):
    """Two small structures served by the city's shared team, a network team for hotspots, and
    a third structure with a team of its own."""
    mdh, library, other = (make_organisation(db) for _ in range(3))
    shared = teams.create_team(
        db, "cli", name="Shared", email="shared@example.org", organisations=[mdh.id, library.id]
    )
    network = teams.create_team(
        db, "cli", name="Network", organisations=[mdh.id], kinds=["hotspot"]
    )
    own = teams.create_team(db, "cli", name="Own", organisations=[other.id])
    technician = make_user(db, Role.TECHNICIAN, organisations=[mdh], email="tech@example.org")
    outsider = make_user(db, Role.TECHNICIAN)
    teams.add_member(db, "cli", shared, technician)
    teams.add_member(db, "cli", own, outsider)
    site = make_site(db, mdh, opening_hours="Tu-Fr 10:00-20:00")
    return {
        "mdh": mdh,
        "other": other,
        "shared": shared,
        "network": network,
        "own": own,
        "technician": technician,
        "outsider": outsider,
        "site": site,
        "pc": make_device(db, site),
        "hotspot": make_device(db, site, kind=DeviceKind.HOTSPOT),
    }


def report(db, city, actor=None, **overrides):
    mediator = actor or make_user(db, Role.MEDIATOR, sites=[city["site"]], email="m@example.org")
    return tickets.open_ticket(
        db,
        mediator,
        **{
            "site": city["site"],
            "device": city["pc"],
            "category": TicketCategory.PRINTER,
            "description": "paper jam",
            "timezone": PARIS,
            "now": FRIDAY_5PM,
            **overrides,
        },
    )


def test_a_ticket_goes_to_the_team_serving_its_organisation_and_kind(db, city):
    assert report(db, city).team is city["shared"]
    assert report(db, city, device=city["hotspot"]).team is city["network"]
    assert report(db, city, device=None, category=TicketCategory.OTHER).team is city["shared"]


def test_due_times_count_opening_hours_only(db, city):
    """Opened Friday 17:00 at a site open Tuesday to Friday 10:00-20:00: four working hours to
    solve (high priority: 8 h; normal: 16 h) end the next Tuesday."""
    urgent = report(db, city, priority=TicketPriority.URGENT)
    normal = report(db, city)

    assert urgent.take_due_at == datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # Fri 18:00
    assert urgent.solve_due_at == datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # Tue 11:00
    assert normal.solve_due_at == datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # Wed 13:00


def test_the_lifecycle_and_its_history(db, city):
    ticket = report(db, city)
    technician = city["technician"]
    later = FRIDAY_5PM + timedelta(minutes=30)

    tickets.assign(db, technician, ticket, technician, now=later)
    tickets.change_status(
        db, technician, ticket, TicketStatus.IN_PROGRESS, timezone=PARIS, now=later
    )
    tickets.add_comment(db, technician, ticket, "new drum ordered", now=later)
    tickets.change_status(
        db,
        technician,
        ticket,
        TicketStatus.SOLVED,
        comment="drum replaced",
        timezone=PARIS,
        now=later,
    )
    tickets.change_status(db, technician, ticket, TicketStatus.CLOSED, timezone=PARIS, now=later)

    assert ticket.status == TicketStatus.CLOSED
    assert ticket.taken_at == later and ticket.solved_at == later and ticket.closed_at == later
    assert [e.kind for e in ticket.events] == [
        TicketEventKind.OPENED,
        TicketEventKind.ASSIGNED,
        TicketEventKind.STATUS,
        TicketEventKind.STATUS,
        TicketEventKind.COMMENT,
        TicketEventKind.STATUS,
        TicketEventKind.STATUS,
    ]
    assert not tickets.breaches(ticket, later).any


def test_an_invalid_transition_is_refused_and_changes_nothing(db, city):
    ticket = report(db, city)

    with pytest.raises(Conflict, match="cannot go from"):
        tickets.change_status(db, city["technician"], ticket, TicketStatus.CLOSED, timezone=PARIS)
    with pytest.raises(Conflict, match="choose who takes"):
        tickets.change_status(db, city["technician"], ticket, TicketStatus.ASSIGNED, timezone=PARIS)

    assert ticket.status == TicketStatus.NEW and len(ticket.events) == 1


def test_waiting_pauses_the_solving_clock(db, city):
    ticket = report(db, city)
    technician = city["technician"]
    due = ticket.solve_due_at
    tuesday_11 = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    wednesday_11 = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)

    tickets.change_status(
        db, technician, ticket, TicketStatus.IN_PROGRESS, timezone=PARIS, now=tuesday_11
    )
    tickets.change_status(
        db,
        technician,
        ticket,
        TicketStatus.WAITING,
        comment="part ordered",
        timezone=PARIS,
        now=tuesday_11,
    )
    assert not tickets.breaches(ticket, due + timedelta(days=3)).solve  # paused
    tickets.change_status(
        db, technician, ticket, TicketStatus.IN_PROGRESS, timezone=PARIS, now=wednesday_11
    )

    assert ticket.solve_due_at == due + timedelta(days=1)  # ten open hours later


def test_a_late_ticket_shows_its_breaches(db, city):
    ticket = report(db, city, priority=TicketPriority.URGENT)

    late = tickets.breaches(ticket, datetime(2026, 12, 8, 12, 0, tzinfo=UTC))

    assert late.take and late.solve


def test_a_team_sees_the_tickets_of_the_organisations_it_serves_and_nothing_else(db, city):
    ticket = report(db, city)
    mediator_elsewhere = make_user(db, Role.MEDIATOR, organisations=[city["other"]])
    manager = make_user(db, Role.MANAGER, organisations=[city["mdh"]])

    assert tickets.get_ticket(db, city["technician"], ticket.id) is ticket
    assert tickets.get_ticket(db, manager, ticket.id) is ticket
    for outsider in (city["outsider"], mediator_elsewhere):
        with pytest.raises(PermissionDenied):
            tickets.get_ticket(db, outsider, ticket.id)
        assert ticket not in tickets.list_tickets(db, outsider)
    with pytest.raises(PermissionDenied):
        tickets.change_status(db, manager, ticket, TicketStatus.IN_PROGRESS, timezone=PARIS)
    with pytest.raises(PermissionDenied):
        tickets.change_status(
            db, city["outsider"], ticket, TicketStatus.IN_PROGRESS, timezone=PARIS
        )


def test_the_reporter_may_reopen_a_solved_ticket(db, city):
    mediator = make_user(db, Role.MEDIATOR, sites=[city["site"]])
    ticket = report(db, city, actor=mediator)
    tickets.change_status(db, city["technician"], ticket, TicketStatus.IN_PROGRESS, timezone=PARIS)
    tickets.change_status(db, city["technician"], ticket, TicketStatus.SOLVED, timezone=PARIS)

    tickets.change_status(db, mediator, ticket, TicketStatus.IN_PROGRESS, timezone=PARIS)

    assert ticket.status == TicketStatus.IN_PROGRESS and ticket.solved_at is None


def test_bad_reports_are_refused(db, city):
    manager = make_user(db, Role.MANAGER, organisations=[city["mdh"]])
    with pytest.raises(PermissionDenied):
        report(db, city, actor=manager)
    with pytest.raises(DomainError, match="few words"):
        report(db, city, category=TicketCategory.OTHER, description="  ")
    with pytest.raises(DomainError, match="is not at"):
        report(db, city, device=make_device(db))
    with pytest.raises(DomainError, match="longer than"):
        report(db, city, description="x" * (tickets.DESCRIPTION_MAX + 1))


def test_alerts_open_one_ticket_per_ongoing_problem_and_say_when_the_cause_is_gone(db, city):
    pc = city["pc"]
    disk = alerts.raise_alert(
        db, pc, AlertKind.DISK_FULL, "disk at 97 %", FRIDAY_5PM, timezone=PARIS
    )
    printer = alerts.raise_alert(
        db, pc, AlertKind.PRINTER_ERROR, "media-jam", FRIDAY_5PM, timezone=PARIS
    )
    ticket = tickets.get_ticket(db, "cli", disk.ticket_id)

    assert printer.ticket_id == ticket.id
    assert ticket.team is city["shared"] and ticket.opened_by == tickets.MONITORING
    assert ticket.priority == TicketPriority.HIGH

    alerts.resolve_alert(db, pc.id, AlertKind.DISK_FULL, "disk at 40 %", FRIDAY_5PM)
    assert ticket.cause_gone_at is None  # the printer still jams
    alerts.resolve_alert(db, pc.id, AlertKind.PRINTER_ERROR, "printer ready", FRIDAY_5PM)

    assert ticket.cause_gone_at == FRIDAY_5PM
    assert ticket.events[-1].kind == TicketEventKind.CAUSE_GONE


def test_one_mail_per_event(db, city):
    ticket = report(db, city)
    technician = city["technician"]
    tickets.change_status(db, technician, ticket, TicketStatus.IN_PROGRESS, timezone=PARIS)
    tickets.change_status(db, technician, ticket, TicketStatus.SOLVED, timezone=PARIS)
    db.flush()

    mails = db.scalars(select(Mail).order_by(Mail.id)).all()

    assert [m.recipients for m in mails] == [
        ["shared@example.org", "tech@example.org"],
        ["m@example.org"],
    ]
    assert str(ticket.id) in mails[0].subject and str(ticket.id) in mails[1].subject


def test_closing_the_ticket_returns_its_device_to_service(db, city):
    pc = city["pc"]
    from controller.maintenance.out_of_service import set_out_of_service

    set_out_of_service(db, city["technician"], pc, True, "screen replaced")
    ticket = report(db, city)
    technician = city["technician"]
    tickets.change_status(db, technician, ticket, TicketStatus.IN_PROGRESS, timezone=PARIS)
    tickets.change_status(db, technician, ticket, TicketStatus.SOLVED, timezone=PARIS)
    tickets.change_status(db, technician, ticket, TicketStatus.CLOSED, timezone=PARIS)

    assert pc.out_of_service_since is None


def test_only_technicians_join_teams(db, city):
    with pytest.raises(DomainError, match="not a technician"):
        teams.add_member(db, "cli", city["shared"], make_user(db, Role.MEDIATOR))
    with pytest.raises(DomainError, match="unknown kind"):
        teams.create_team(db, "cli", name="Toasters", kinds=["toaster"])
