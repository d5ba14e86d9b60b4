"""The tickets' staff pages (controller/maintenance/tickets_web.py): a mediator reports a problem
in three taps and follows it; a team's technicians move it along its lifecycle, assign it,
comment; whoever sees it reads it; outsiders get 403; what the lifecycle refuses is said in
words and changes nothing; the out-of-service switch on the device page; the teams' page for
admins; and the pages of a ticket's site hear that it changed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agent.protocol import DeviceKind
from controller.access import Role
from controller.accounts.models import User
from controller.db import utcnow
from controller.fleet.models import Device
from controller.maintenance import teams, tickets
from controller.maintenance.models import (
    Team,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketPriority,
    TicketStatus,
)
from controller.maintenance.tickets_web import (
    LIVE_EVENT,
)
from controller.places.models import Organisation, Site
from controller.realtime import LIVE_NAMESPACE, hub_of
from tests.controller.testkit import TIMEZONE, audit_actions, csrf_token, sign_in, words
from tests.factories import make_device, make_organisation, make_site, make_user

FRENCH = {"Accept-Language": "fr"}


@pytest.fixture
def app(make_app):
    return make_app()


@dataclass
class Place:
    """A library with a PC, the city's team serving its organisation, and its people."""

    organisation: Organisation
    site: Site
    pc: Device
    team: Team
    technician: User
    mediator: User
    manager: User
    outsider: User  # a technician of a team serving another organisation
    admin: User


@pytest.fixture
def place(db) -> Place:
    organisation = make_organisation(db, name="Bibliothèques")
    site = make_site(
        db, organisation, name="Bibliothèque Centre", opening_hours="Mo-Su 00:00-24:00"
    )
    pc = make_device(db, site, name="pc-accueil")
    admin = make_user(db, Role.ADMIN, username="robin")
    technician = make_user(db, Role.TECHNICIAN, organisations=[organisation], username="tess")
    team = teams.create_team(db, admin, name="Équipe ville", organisations=[organisation.id])
    teams.add_member(db, admin, team, technician)
    elsewhere = make_organisation(db, name="Maisons des habitants")
    outsider = make_user(db, Role.TECHNICIAN, organisations=[elsewhere], username="otto")
    their_team = teams.create_team(db, admin, name="Équipe MDH", organisations=[elsewhere.id])
    teams.add_member(db, admin, their_team, outsider)
    db.flush()
    return Place(
        organisation=organisation,
        site=site,
        pc=pc,
        team=team,
        technician=technician,
        mediator=make_user(db, Role.MEDIATOR, sites=[site], username="mia"),
        manager=make_user(db, Role.MANAGER, organisations=[organisation], username="max"),
        outsider=outsider,
        admin=admin,
    )


def open_ticket(db, place: Place, **overrides) -> Ticket:
    """A ticket the mediator opened about the PC (``now``: when, by default now)."""
    arguments = {
        "site": place.site,
        "device": place.pc,
        "category": TicketCategory.SCREEN,
        "description": "The screen stays black.",
        "timezone": TIMEZONE,
        **overrides,
    }
    ticket = tickets.open_ticket(db, place.mediator, **arguments)
    db.flush()
    return ticket


def post(client, path: str, page: str, **fields):
    """Post a form of the page at ``page``, its CSRF token included."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **fields})


def status_of(db, ticket: Ticket) -> str:
    db.expire(ticket)
    return str(ticket.status)


def event_count(db, ticket: Ticket) -> int:
    return db.scalar(select(func.count()).where(TicketEvent.ticket_id == ticket.id))


def buttons(answer) -> list[str]:
    """The statuses the page's buttons move the ticket to."""
    return re.findall(r'name="to" value="(\w+)"', answer.get_data(as_text=True))


# -- reporting ------------------------------------------------------------------------------


def test_a_mediator_reports_a_printer_jam_in_three_taps_and_follows_it(client, db, place):
    sign_in(client, place.mediator)

    device_page = words(client.get(f"/devices/{place.pc.id}"))
    assert "Report a problem" in device_page
    first = client.get(f"/devices/{place.pc.id}/report")
    assert first.status_code == 200
    assert 'name="category" value="printer"' in first.get_data(as_text=True)
    assert 'value="alert"' not in first.get_data(as_text=True)  # monitoring's, not a tap
    second = client.get(f"/devices/{place.pc.id}/report?category=printer")
    assert "Printer jammed or empty" in words(second) and "A few words" in words(second)

    sent = post(
        client,
        f"/devices/{place.pc.id}/report",
        f"/devices/{place.pc.id}/report?category=printer",
        category="printer",
        description="Paper stuck in tray 2.",
    )

    ticket = db.scalars(select(Ticket).where(Ticket.device_id == place.pc.id)).one()
    assert sent.status_code == 302 and sent.location.endswith(f"/tickets/{ticket.id}")
    assert ticket.category == TicketCategory.PRINTER and ticket.team_id == place.team.id
    assert ticket.reporter_id == place.mediator.id
    page = words(client.get(sent.location))
    assert f"Problem reported (ticket {ticket.id}): Équipe ville has it." in page
    assert "Printer jammed or empty: pc-accueil" in page and "Paper stuck in tray 2." in page
    assert "mia opened the ticket." in page
    assert "Printer jammed or empty: pc-accueil" in words(client.get("/tickets"))


def test_a_problem_with_no_device_is_reported_from_the_site(client, db, place):
    sign_in(client, place.mediator)
    assert "Report a problem" in words(client.get(f"/sites/{place.site.id}"))

    sent = post(
        client,
        f"/sites/{place.site.id}/report",
        f"/sites/{place.site.id}/report?category=network",
        category="network",
    )

    ticket = db.scalars(select(Ticket).where(Ticket.site_id == place.site.id)).one()
    assert sent.status_code == 302 and ticket.device_id is None
    assert "Network or wifi: Bibliothèque Centre" in words(client.get(sent.location))


def test_other_needs_a_few_words_and_what_was_typed_stays(client, db, place):
    sign_in(client, place.mediator)
    report = f"/devices/{place.pc.id}/report"

    nothing_said = post(client, report, f"{report}?category=other", category="other")
    too_long = post(
        client, report, f"{report}?category=screen", category="screen", description="x" * 2001
    )
    unknown = post(client, report, report, category="alert", description="Smoke")

    assert nothing_said.status_code == 400
    assert "Say in a few words what is wrong." in words(nothing_said)
    assert "required" in nothing_said.get_data(as_text=True)
    assert too_long.status_code == 400 and "x" * 2001 in too_long.get_data(as_text=True)
    assert unknown.status_code == 400 and "Choose what is wrong." in words(unknown)
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_manager_may_not_report(client, db, place):
    sign_in(client, place.manager)

    assert "Report a problem" not in words(client.get(f"/devices/{place.pc.id}"))
    refused = client.get(f"/devices/{place.pc.id}/report")

    assert refused.status_code == 403
    assert "does not report problems" in words(refused)


# -- who sees and moves a ticket --------------------------------------------------------------


def test_a_technician_of_another_team_gets_403_on_the_ticket(client, db, place):
    ticket = open_ticket(db, place)
    sign_in(client, place.outsider)

    refused = client.get(f"/tickets/{ticket.id}")
    moved = client.post(
        f"/tickets/{ticket.id}/status",
        data={"csrf_token": csrf_token(client, "/tickets"), "to": "in_progress"},
    )

    assert refused.status_code == 403
    assert "belongs to a team or a place you are not part of" in words(refused)
    assert moved.status_code == 403 and status_of(db, ticket) == TicketStatus.NEW
    assert "pc-accueil" not in words(client.get("/tickets"))
    assert client.get("/tickets/999999").status_code == 404


def test_a_manager_reads_a_ticket_but_cannot_move_it(client, db, place):
    ticket = open_ticket(db, place)
    sign_in(client, place.manager)

    page = client.get(f"/tickets/{ticket.id}")
    moved = post(client, f"/tickets/{ticket.id}/status", f"/tickets/{ticket.id}", to="in_progress")

    assert page.status_code == 200 and "Screen: pc-accueil" in words(page)
    assert buttons(page) == [] and "Assign" not in words(page)
    assert moved.status_code == 403
    assert "only the technicians of the ticket's team may move it along" in words(moved)
    assert status_of(db, ticket) == TicketStatus.NEW


def test_a_ticket_goes_through_its_lifecycle_from_its_page(client, db, place):
    ticket = open_ticket(db, place)
    page = f"/tickets/{ticket.id}"
    sign_in(client, place.technician)
    assert buttons(client.get(page)) == ["in_progress"]  # "assigned" comes with a name

    given = post(client, f"{page}/assignee", page, assignee=place.technician.id)
    assert given.status_code == 302 and status_of(db, ticket) == TicketStatus.ASSIGNED
    assert "tess (Technician) has the ticket now." in words(client.get(page))
    for to in ("in_progress", "waiting", "in_progress", "solved"):
        assert to in buttons(client.get(page))
        assert post(client, f"{page}/status", page, to=to).status_code == 302
        assert status_of(db, ticket) == to
    assert buttons(client.get(page)) == ["in_progress", "closed"]

    # The reporter says whether it works: reopen, or close.
    client.post("/logout", data={"csrf_token": csrf_token(client, page)})
    sign_in(client, place.mediator)
    reporter_page = client.get(page)
    assert buttons(reporter_page) == ["in_progress", "closed"]
    assert "Reopen: it still does not work" in words(reporter_page)
    closed = post(client, f"{page}/status", page, to="closed")

    assert closed.status_code == 302 and status_of(db, ticket) == TicketStatus.CLOSED
    history = words(client.get(page))
    assert "The ticket is now closed." in history
    assert "tess gave it to tess." in history
    assert "tess moved it from Waiting to In progress." in history
    assert "mia moved it from Solved to Closed." in history
    assert buttons(client.get(page)) == [] and "Add the comment" not in history
    assert audit_actions(db, place.technician).count("ticket.status") == 4


def test_a_move_the_lifecycle_refuses_is_said_in_words_and_changes_nothing(client, db, place):
    ticket = open_ticket(db, place)
    before = event_count(db, ticket)
    sign_in(client, place.technician)

    refused = post(client, f"/tickets/{ticket.id}/status", f"/tickets/{ticket.id}", to="closed")
    made_up = post(client, f"/tickets/{ticket.id}/status", f"/tickets/{ticket.id}", to="fixed")

    assert refused.status_code == 409
    assert "a ticket cannot go from New to Closed" in words(refused)
    assert made_up.status_code == 400
    assert status_of(db, ticket) == TicketStatus.NEW and event_count(db, ticket) == before
    assert "ticket.status" not in audit_actions(db, place.technician)


def test_a_comment_is_added_and_an_empty_one_is_refused(client, db, place):
    ticket = open_ticket(db, place)
    page = f"/tickets/{ticket.id}"
    sign_in(client, place.manager)  # whoever sees a ticket may comment on it

    added = post(client, f"{page}/comments", page, text="Seen again this morning.")
    shown = words(client.get(page))
    empty = post(client, f"{page}/comments", page, text="   ")
    long = post(client, f"{page}/comments", page, text="y" * 2001)

    assert added.status_code == 302
    assert "Your comment is added." in shown
    assert "max wrote: Seen again this morning." in shown
    assert empty.status_code == 400 and "Write something to comment." in words(empty)
    assert long.status_code == 400 and "y" * 2001 in long.get_data(as_text=True)
    db.expire(ticket)
    assert [e.text for e in ticket.events if e.kind == "comment"] == ["Seen again this morning."]


def test_only_the_technicians_of_the_serving_teams_are_offered_to_assign(client, db, place):
    ticket = open_ticket(db, place)
    page = f"/tickets/{ticket.id}"
    sign_in(client, place.admin)

    choices = client.get(page).get_data(as_text=True)
    outsider = post(client, f"{page}/assignee", page, assignee=place.outsider.id)

    assert f'value="{place.technician.id}"' in choices
    assert f'value="{place.outsider.id}"' not in choices
    assert outsider.status_code == 400 and "Not a valid choice" in words(outsider)
    db.expire(ticket)
    assert ticket.assignee_id is None and ticket.status == TicketStatus.NEW


# -- the list ---------------------------------------------------------------------------------


def test_the_list_puts_open_tickets_first_says_lateness_in_words_and_filters(client, db, place):
    late = open_ticket(db, place, now=utcnow() - timedelta(days=10), priority=TicketPriority.HIGH)
    fresh = open_ticket(db, place, category=TicketCategory.INPUT)
    done = open_ticket(db, place, category=TicketCategory.WONT_START)
    tickets.change_status(db, place.admin, done, TicketStatus.IN_PROGRESS, timezone=TIMEZONE)
    tickets.change_status(db, place.admin, done, TicketStatus.SOLVED, timezone=TIMEZONE)
    tickets.change_status(db, place.admin, done, TicketStatus.CLOSED, timezone=TIMEZONE)
    late.cause_gone_at = utcnow()
    db.flush()
    sign_in(client, place.technician)

    listed = client.get("/tickets")
    every = words(client.get("/tickets?status=all"))
    high = words(client.get("/tickets?priority=high"))
    edited = client.get("/tickets?priority=whatever&site=nope")

    text = words(listed)
    assert text.index("Screen: pc-accueil") < text.index("Keyboard or mouse: pc-accueil")
    assert "Won't start" not in text and "Won't start: pc-accueil" in every
    assert "Late to take" in text and "Late to solve" in text and "Cause gone" in text
    assert 'class="flagged"' in listed.get_data(as_text=True)
    assert "Keyboard or mouse" not in high and "Screen: pc-accueil" in high
    assert edited.status_code == 200 and "2 tickets" in words(edited)
    assert fresh.id


def test_tickets_are_in_the_navigation_of_every_role(client, db, place):
    for person in (place.mediator, place.manager, place.technician, place.admin):
        sign_in(client, person)
        assert 'href="/tickets"' in client.get("/").get_data(as_text=True)
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_the_ticket_page_reads_in_french_with_times_in_the_city(client, db, place):
    ticket = open_ticket(db, place, category=TicketCategory.PRINTER)
    sign_in(client, place.mediator)

    page = words(client.get(f"/tickets/{ticket.id}", headers=FRENCH))

    assert "Imprimante bloquée ou vide : pc-accueil" in page
    assert "Nouveau" in page and "mia a ouvert le ticket." in page
    assert "À résoudre avant" in page


# -- out of service ---------------------------------------------------------------------------


def test_a_technician_takes_a_device_out_of_service_and_back(client, db, place):
    sign_in(client, place.technician)
    device_page = f"/devices/{place.pc.id}"
    assert "Take out of service" in words(client.get(device_page))

    too_long = post(client, f"{device_page}/out-of-service", device_page, on="1", reason="r" * 201)
    assert too_long.status_code == 400 and "r" * 201 in too_long.get_data(as_text=True)
    db.expire(place.pc)
    assert place.pc.out_of_service_since is None

    taken = post(client, f"{device_page}/out-of-service", device_page, on="1", reason="New disk")
    db.expire(place.pc)
    assert taken.status_code == 302 and place.pc.out_of_service_since is not None
    page = words(client.get(device_page))
    assert "pc-accueil is out of service." in page
    assert "Out of service since" in page and "New disk" in page

    back = post(client, f"{device_page}/out-of-service", device_page, on="0")
    db.expire(place.pc)
    assert back.status_code == 302 and place.pc.out_of_service_since is None
    assert "pc-accueil is back in service." in words(client.get(device_page))
    assert audit_actions(db, place.technician)[-2:] == [
        "device.out_of_service",
        "device.in_service",
    ]


def test_a_mediator_sees_out_of_service_but_has_no_switch(client, db, place):
    place.pc.out_of_service_since = utcnow()
    place.pc.out_of_service_reason = "Screen broken"
    db.flush()
    sign_in(client, place.mediator)
    device_page = f"/devices/{place.pc.id}"

    page = words(client.get(device_page))
    refused = post(client, f"{device_page}/out-of-service", device_page, on="0")

    assert "Out of service since" in page and "Screen broken" in page
    assert "Back in service" not in page and "Take out of service" not in page
    assert refused.status_code == 403
    db.expire(place.pc)
    assert place.pc.out_of_service_since is not None


# -- teams ------------------------------------------------------------------------------------


def test_an_admin_sets_up_a_team_and_its_members(client, db, place):
    network = make_organisation(db, name="CCAS")
    sign_in(client, place.admin)

    created = post(
        client,
        "/teams",
        "/teams",
        name="Réseau",
        email="reseau@example.org",
        organisations=[str(network.id)],
        kinds=[DeviceKind.HOTSPOT.value],
    )
    team = db.scalars(select(Team).where(Team.name == "Réseau")).one()
    added = post(client, f"/teams/{team.id}/members", "/teams", user=place.technician.id)
    page = words(client.get("/teams"))
    removed = post(client, f"/teams/{team.id}/members/{place.technician.id}/remove", "/teams")

    assert created.status_code == 302 and [o.name for o in team.organisations] == ["CCAS"]
    assert team.kinds == ["hotspot"] and team.email == "reseau@example.org"
    assert added.status_code == 302 and "Réseau has a new member." in page
    assert removed.status_code == 302
    db.expire(team)
    assert team.members == []


def test_a_team_the_domain_refuses_comes_back_as_typed(client, db, place):
    sign_in(client, place.admin)

    same_name = post(client, "/teams", "/teams", name="Équipe ville", email="x@example.org")
    mediator = post(client, f"/teams/{place.team.id}/members", "/teams", user=place.mediator.id)

    assert same_name.status_code == 409
    assert "there is already a team Équipe ville" in words(same_name)
    assert 'value="x@example.org"' in same_name.get_data(as_text=True)
    assert mediator.status_code == 400
    assert "mia is not a technician: only technicians repair" in words(mediator)
    assert place.mediator not in place.team.members


def test_only_admins_manage_teams(client, db, place):
    sign_in(client, place.technician)

    assert client.get("/teams").status_code == 403
    refused = post(client, f"/teams/{place.team.id}/members", "/tickets", user=place.outsider.id)

    assert refused.status_code == 403 and place.outsider not in place.team.members
    assert "Maintenance teams" not in words(client.get("/tickets"))


# -- live ---------------------------------------------------------------------------------------


def test_a_change_is_told_to_the_live_pages_of_the_tickets_site(app, client, db, place):
    ticket = open_ticket(db, place)
    elsewhere = make_site(db, make_organisation(db))
    sign_in(client, place.mediator)
    watching = hub_of(app).test_client(app, namespace=LIVE_NAMESPACE, flask_test_client=client)
    other = app.test_client()
    sign_in(other, make_user(db, Role.MEDIATOR, sites=[elsewhere]))
    not_watching = hub_of(app).test_client(app, namespace=LIVE_NAMESPACE, flask_test_client=other)
    watching.get_received(LIVE_NAMESPACE)
    not_watching.get_received(LIVE_NAMESPACE)
    technician = app.test_client()
    sign_in(technician, place.technician)

    post(technician, f"/tickets/{ticket.id}/comments", f"/tickets/{ticket.id}", text="On my way")

    heard = [m for m in watching.get_received(LIVE_NAMESPACE) if m["name"] == LIVE_EVENT]
    assert heard == [
        {
            "name": LIVE_EVENT,
            "args": [{"id": ticket.id, "site_id": place.site.id, "event": "comment"}],
            "namespace": LIVE_NAMESPACE,
        }
    ]
    assert not any(m["name"] == LIVE_EVENT for m in not_watching.get_received(LIVE_NAMESPACE))
    watching.disconnect(LIVE_NAMESPACE)
    not_watching.disconnect(LIVE_NAMESPACE)


def test_the_pages_load_their_live_script(client, db, place):
    ticket = open_ticket(db, place)
    sign_in(client, place.mediator)

    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    script = client.get("/static/maintenance/tickets.js")

    assert f'data-tickets-live="/live" data-ticket-id="{ticket.id}"' in page
    assert "/static/maintenance/tickets.js" in page and "socket.io.min.js" in page
    assert script.status_code == 200 and 'socket.on("ticket"' in script.get_data(as_text=True)
    script.close()
