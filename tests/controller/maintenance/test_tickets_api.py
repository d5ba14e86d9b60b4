"""Tickets through the staff API (controller/maintenance/tickets_api.py): a mediator reports, the
team that serves the place takes it along GLPI's lifecycle, each sees what is theirs and nothing
else, and bad input gets a clear 4xx that changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from agent.protocol import DeviceKind
from controller.access import Role
from controller.audit import AuditLog
from controller.db import utcnow
from controller.maintenance import teams, tickets
from controller.maintenance.models import Ticket, TicketCategory, TicketEvent, TicketStatus
from tests.controller.testkit import TIMEZONE, count, sign_in
from tests.factories import make_device, make_organisation, make_site, make_user


@pytest.fixture
def city(db):
    """Two small structures served by the city's shared team, a third with a team of its own;
    a mediator and a manager of the first's site, a technician of each team."""
    mdh, library, other = (make_organisation(db) for _ in range(3))
    shared = teams.create_team(
        db, "cli", name="Shared", email="shared@example.org", organisations=[mdh.id, library.id]
    )
    network = teams.create_team(
        db, "cli", name="Network", organisations=[mdh.id], kinds=["hotspot"]
    )
    own = teams.create_team(db, "cli", name="Own", organisations=[other.id])
    technician = make_user(db, Role.TECHNICIAN, username="tech-shared")
    outsider = make_user(db, Role.TECHNICIAN, username="tech-own")
    teams.add_member(db, "cli", shared, technician)
    teams.add_member(db, "cli", own, outsider)
    site = make_site(db, mdh, opening_hours="")  # counted round the clock
    library_site = make_site(db, library)
    other_site = make_site(db, other)
    return {
        "shared": shared,
        "network": network,
        "own": own,
        "technician": technician,
        "outsider": outsider,
        "admin": make_user(db, Role.ADMIN),
        "mediator": make_user(db, Role.MEDIATOR, sites=[site]),
        "manager": make_user(db, Role.MANAGER, organisations=[mdh]),
        "site": site,
        "library_site": library_site,
        "other_site": other_site,
        "other_mediator": make_user(db, Role.MEDIATOR, sites=[other_site]),
        "pc": make_device(db, site, name="pc-accueil"),
        "hotspot": make_device(db, site, kind=DeviceKind.HOTSPOT),
        "other_pc": make_device(db, other_site),
    }


@pytest.fixture
def as_(app):
    """A client signed in as ``user``."""

    def client_of(user):
        client = app.test_client()
        assert sign_in(client, user).status_code == 302
        return client

    return client_of


def report(client, site, device=None, **fields):
    body = {
        "site_id": site.id,
        "category": "printer",
        "description": "paper jam",
        **({"device_id": device.id} if device is not None else {}),
        **fields,
    }
    return client.post("/api/v1/tickets", json=body)


def audit_count(db) -> int:
    return db.scalar(select(func.count()).select_from(AuditLog))


# -- reporting ----------------------------------------------------------------------------------


def test_a_mediator_reports_a_problem_and_it_goes_to_the_team_serving_the_place(db, city, as_):
    answer = report(as_(city["mediator"]), city["site"], city["pc"], description=" paper jam ")

    assert answer.status_code == 201
    body = answer.get_json()
    assert body["team"] == "Shared" and body["team_id"] == city["shared"].id
    assert body["status"] == "new" and body["priority"] == "normal"
    assert body["device"] == "pc-accueil" and body["site"] == city["site"].name
    assert body["description"] == "paper jam"
    assert body["opened_by"] == city["mediator"].username
    assert [e["kind"] for e in body["events"]] == ["opened"]
    assert body["breaches"] == {"take": False, "solve": False}
    ticket = db.get(Ticket, body["id"])
    # Round the clock at this site: four hours to take, sixteen to solve.
    assert ticket.take_due_at - ticket.opened_at == timedelta(hours=4)
    assert ticket.solve_due_at - ticket.opened_at == timedelta(hours=16)


def test_a_hotspot_goes_to_the_network_team_and_a_site_problem_needs_no_device(db, city, as_):
    client = as_(city["mediator"])

    hotspot = report(client, city["site"], city["hotspot"], category="network")
    site_only = report(client, city["site"], category="other", priority="high", description="x")

    assert hotspot.get_json()["team"] == "Network"
    assert site_only.status_code == 201
    assert site_only.get_json()["device_id"] is None
    assert site_only.get_json()["priority"] == "high"


@pytest.mark.parametrize(
    ("fields", "status", "named"),
    [
        ({"category": None}, 422, "category"),
        ({"category": "toaster"}, 422, "category"),
        ({"category": "alert"}, 422, "category"),  # monitoring's own
        ({"priority": "whenever"}, 422, "priority"),
        ({"description": "x" * 2001}, 422, "description"),
        ({"description": "a\x00b"}, 422, "description"),  # PostgreSQL cannot store it
        ({"site_id": 0}, 422, "site_id"),
        ({"site_id": 2**63}, 422, "site_id"),
        ({"colour": "red"}, 422, "colour"),
        ({"category": "other", "description": "  "}, 400, "words"),
        ({"site_id": 999_999}, 404, "site"),
    ],
)
def test_a_bad_report_is_refused_with_the_field_named_and_stores_nothing(
    db, city, as_, fields, status, named
):
    body = {"site_id": city["site"].id, "category": "printer", "description": "jam", **fields}
    body = {k: v for k, v in body.items() if v is not None}
    mediator = as_(city["mediator"])
    before = audit_count(db)

    answer = mediator.post("/api/v1/tickets", json=body)

    assert answer.status_code == status, answer.get_json()
    assert named in answer.get_json()["message"]
    assert count(db, Ticket) == 0 and audit_count(db) == before


def test_a_device_of_another_site_or_unknown_is_refused(db, city, as_):
    client = as_(city["admin"])

    elsewhere = report(client, city["site"], city["other_pc"])
    unknown = client.post(
        "/api/v1/tickets",
        json={"site_id": city["site"].id, "device_id": "nope", "category": "screen",
              "description": ""},
    )  # fmt: skip

    assert elsewhere.status_code == 400 and "is not at" in elsewhere.get_json()["message"]
    assert unknown.status_code == 404 and "no device" in unknown.get_json()["message"]
    assert count(db, Ticket) == 0


def test_a_report_that_is_not_json_is_refused(db, city, as_):
    answer = as_(city["mediator"]).post("/api/v1/tickets", data="site_id=1")

    assert answer.status_code == 415
    assert count(db, Ticket) == 0


@pytest.mark.parametrize("who", ["manager", "other_mediator"])
def test_only_staff_of_the_place_other_than_managers_may_report(db, city, as_, who):
    answer = report(as_(city[who]), city["site"], city["pc"])

    assert answer.status_code == 403 and "outside the places" in answer.get_json()["message"]
    assert count(db, Ticket) == 0


def test_without_credentials_the_api_answers_401(client, city):
    assert client.get("/api/v1/tickets").status_code == 401
    assert report(client, city["site"]).status_code == 401


# -- who sees what ------------------------------------------------------------------------------


@pytest.fixture
def reported(city, as_):
    """One ticket at each organisation's site, reported by whoever may."""
    admin = as_(city["admin"])
    return {
        "mdh": report(as_(city["mediator"]), city["site"], city["pc"]).get_json()["id"],
        "library": report(admin, city["library_site"]).get_json()["id"],
        "other": report(admin, city["other_site"], city["other_pc"]).get_json()["id"],
    }


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("admin", {"mdh", "library", "other"}),
        ("technician", {"mdh", "library"}),  # the organisations the shared team serves
        ("outsider", {"other"}),  # their own team's, nothing else
        ("mediator", {"mdh"}),  # their site's
        ("manager", {"mdh"}),  # their organisation's
    ],
)
def test_each_sees_the_tickets_of_their_teams_or_places_and_nothing_else(
    city, as_, reported, who, sees
):
    client = as_(city[who])

    listed = {t["id"] for t in client.get("/api/v1/tickets").get_json()}
    readable = {
        name for name, ticket_id in reported.items()
        if client.get(f"/api/v1/tickets/{ticket_id}").status_code == 200
    }  # fmt: skip

    assert listed == {reported[name] for name in sees}
    assert readable == sees


def test_a_ticket_outside_ones_teams_is_403_and_an_unknown_one_404(city, as_, reported):
    client = as_(city["outsider"])

    outside = client.get(f"/api/v1/tickets/{reported['mdh']}")
    unknown = client.get("/api/v1/tickets/999999")
    too_big = client.get(f"/api/v1/tickets/{2**63}")
    not_a_number = client.get("/api/v1/tickets/abc")

    assert outside.status_code == 403 and outside.get_json()["error"] == "forbidden"
    assert unknown.status_code == 404 and "no ticket 999999" in unknown.get_json()["message"]
    assert too_big.status_code == 404 and not_a_number.status_code == 404


def test_the_list_takes_the_same_queries_for_two_tickets_or_twelve(db, city, as_, engine):
    client = as_(city["admin"])

    def statements() -> int:
        seen: list[str] = []

        def note(*args):
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", note)
        try:
            assert client.get("/api/v1/tickets").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", note)
        return len(seen)

    def report_on_new_pcs(n: int) -> None:
        for _ in range(n):
            pc = make_device(db, city["site"])
            ticket = tickets.open_ticket(
                db,
                "cli",
                site=city["site"],
                device=pc,
                category=TicketCategory.SCREEN,
                timezone=TIMEZONE,
            )
            tickets.assign(db, "cli", ticket, city["technician"])
        db.flush()

    report_on_new_pcs(2)
    few = statements()
    report_on_new_pcs(10)
    many = statements()

    assert len(client.get("/api/v1/tickets").get_json()) == 12
    assert many == few


def test_filters_narrow_the_list(db, city, as_, reported):
    client = as_(city["admin"])
    closed = db.get(Ticket, reported["library"])
    closed.status = TicketStatus.CLOSED
    db.flush()

    def ids(query):
        answer = client.get(f"/api/v1/tickets?{query}")
        assert answer.status_code == 200, answer.get_json()
        return {t["id"] for t in answer.get_json()}

    assert ids("") == {reported["mdh"], reported["other"]}  # open ones by default
    assert ids("status=all") == set(reported.values())
    assert ids(f"site={city['other_site'].id}") == {reported["other"]}
    assert ids(f"team={city['shared'].id}&status=all") == {reported["mdh"], reported["library"]}
    assert ids(f"device={city['pc'].id}") == {reported["mdh"]}


@pytest.mark.parametrize(
    ("query", "named"),
    [("status=closed", "status"), ("site=abc", "site"), ("team=0", "team"),
     (f"device={'x' * 65}", "device")],
)  # fmt: skip
def test_a_bad_filter_is_a_400_naming_it(city, as_, query, named):
    answer = as_(city["admin"]).get(f"/api/v1/tickets?{query}")

    assert answer.status_code == 400
    assert answer.get_json()["message"].startswith(named)


def backdate(db, ticket_id: int, by: timedelta) -> None:
    """Move a ticket and its history ``by`` into the past, as if it had been opened then (the
    site counts round the clock: its due times move by as much)."""
    ticket = db.get(Ticket, ticket_id)
    for column in ("opened_at", "take_due_at", "solve_due_at", "taken_at", "waiting_since"):
        if getattr(ticket, column) is not None:
            setattr(ticket, column, getattr(ticket, column) - by)
    for step in ticket.events:
        step.at -= by
    db.flush()


def test_refusals_read_in_the_readers_language(city, as_):
    client = as_(city["admin"])

    french = client.get("/api/v1/tickets?status=closed", headers={"Accept-Language": "fr"})
    category = report(client, city["site"], category="alert")  # an English reader

    assert french.get_json()["message"] == "status doit valoir open ou all, reçu 'closed'"
    assert category.get_json()["message"].startswith("category 'alert' is monitoring's own")


# -- the lifecycle ------------------------------------------------------------------------------


def test_the_team_takes_a_ticket_through_its_lifecycle_and_waiting_pushes_the_due_time(
    db, city, as_
):
    mediator, technician = as_(city["mediator"]), as_(city["technician"])
    ticket_id = report(mediator, city["site"], city["pc"]).get_json()["id"]
    backdate(db, ticket_id, timedelta(hours=3))
    url = f"/api/v1/tickets/{ticket_id}"

    assigned = technician.post(f"{url}/assign", json={"user": "tech-shared"})
    started = technician.post(f"{url}/status", json={"to": "in_progress"})
    waiting = technician.post(f"{url}/status", json={"to": "waiting", "comment": "drum ordered"})
    # The drum took two hours to come: the pause began then (the site counts round the clock).
    ticket = db.get(Ticket, ticket_id)
    due_before = ticket.solve_due_at
    began = utcnow() - timedelta(hours=2)
    ticket.waiting_since = began
    events = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    db.scalars(events).all()[-1].at = began
    db.flush()
    resumed = technician.post(f"{url}/status", json={"to": "in_progress"})
    comment = mediator.post(f"{url}/comments", json={"text": "thank you"})
    solved = technician.post(f"{url}/status", json={"to": "solved", "comment": "drum replaced"})
    closed = mediator.post(f"{url}/status", json={"to": "closed"})  # the reporter agrees

    for answer in (assigned, started, waiting, resumed, solved, closed):
        assert answer.status_code == 200, answer.get_json()
    assert comment.status_code == 201 and comment.get_json()["text"] == "thank you"
    assert assigned.get_json()["status"] == "assigned"
    assert assigned.get_json()["assignee"] == "tech-shared"
    assert waiting.get_json()["waiting_since"] is not None
    pushed = resumed.get_json()
    assert pushed["waiting_since"] is None
    db.expire_all()
    assert db.get(Ticket, ticket_id).solve_due_at - due_before >= timedelta(hours=2)
    assert pushed["breaches"] == {"take": False, "solve": False}
    final = closed.get_json()
    assert final["status"] == "closed" and final["solved_at"] and final["closed_at"]
    assert [(e["kind"], e["to_status"], e["text"]) for e in final["events"]] == [
        ("opened", None, ""),
        ("assigned", None, "tech-shared"),
        ("status", "assigned", ""),
        ("status", "in_progress", ""),
        ("status", "waiting", "drum ordered"),
        ("status", "in_progress", ""),
        ("comment", None, "thank you"),
        ("status", "solved", "drum replaced"),
        ("status", "closed", ""),
    ]
    assert technician.get(url).get_json() == final


def test_an_invalid_transition_is_a_409_that_changes_nothing(db, city, as_):
    technician = as_(city["technician"])
    ticket_id = report(as_(city["mediator"]), city["site"], city["pc"]).get_json()["id"]
    before = audit_count(db)

    answer = technician.post(f"/api/v1/tickets/{ticket_id}/status", json={"to": "closed"})
    unassigned = technician.post(f"/api/v1/tickets/{ticket_id}/status", json={"to": "assigned"})

    assert answer.status_code == 409 and answer.get_json()["error"] == "conflict"
    assert "cannot go from" in answer.get_json()["message"]
    assert unassigned.status_code == 409
    db.expire_all()
    ticket = db.get(Ticket, ticket_id)
    assert ticket.status == TicketStatus.NEW and len(ticket.events) == 1
    assert audit_count(db) == before


@pytest.mark.parametrize(
    ("who", "status"),
    [("outsider", 403), ("mediator", 403), ("manager", 403)],
)
def test_only_the_team_moves_a_ticket_along(db, city, as_, who, status):
    ticket_id = report(as_(city["mediator"]), city["site"], city["pc"]).get_json()["id"]
    client = as_(city[who])
    before = audit_count(db)

    moved = client.post(f"/api/v1/tickets/{ticket_id}/status", json={"to": "in_progress"})
    assigned = client.post(f"/api/v1/tickets/{ticket_id}/assign", json={"user": "tech-shared"})

    assert moved.status_code == status and assigned.status_code == status
    db.expire_all()
    ticket = db.get(Ticket, ticket_id)
    assert ticket.status == TicketStatus.NEW and ticket.assignee_id is None
    assert audit_count(db) == before


def test_a_ticket_goes_only_to_someone_who_repairs_for_the_place(db, city, as_):
    technician = as_(city["technician"])
    ticket_id = report(as_(city["mediator"]), city["site"], city["pc"]).get_json()["id"]
    url = f"/api/v1/tickets/{ticket_id}/assign"

    outsider = technician.post(url, json={"user": "tech-own"})
    unknown = technician.post(url, json={"user": "nobody"})
    empty = technician.post(url, json={"user": ""})

    assert outsider.status_code == 400 and "tech-own" in outsider.get_json()["message"]
    assert unknown.status_code == 404 and "nobody" in unknown.get_json()["message"]
    assert empty.status_code == 422 and "user" in empty.get_json()["message"]
    assert db.get(Ticket, ticket_id).assignee_id is None


def test_comments_need_words_and_a_closed_ticket_takes_none(db, city, as_):
    mediator = as_(city["mediator"])
    ticket_id = report(mediator, city["site"], city["pc"]).get_json()["id"]
    url = f"/api/v1/tickets/{ticket_id}/comments"

    blank = mediator.post(url, json={"text": "   "})
    missing = mediator.post(url, json={})
    db.get(Ticket, ticket_id).status = TicketStatus.CLOSED
    db.flush()
    closed = mediator.post(url, json={"text": "still broken"})

    assert blank.status_code == 400 and "write something" in blank.get_json()["message"]
    assert missing.status_code == 422 and "text" in missing.get_json()["message"]
    assert closed.status_code == 409
    assert (
        db.scalar(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "comment")
        )
        == 0
    )


def test_a_new_ticket_past_its_time_to_be_taken_says_so(db, city, as_):
    ticket_id = report(as_(city["mediator"]), city["site"], city["pc"]).get_json()["id"]
    backdate(db, ticket_id, timedelta(hours=5))  # four hours to take it

    read = as_(city["technician"]).get(f"/api/v1/tickets/{ticket_id}").get_json()

    assert read["status"] == "new"
    assert read["breaches"] == {"take": True, "solve": False}


# -- teams --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("admin", ["Network", "Own", "Shared"]),
        ("technician", ["Shared"]),  # their own team
        ("mediator", ["Network", "Shared"]),  # those repairing for their place
        ("other_mediator", ["Own"]),
    ],
)
def test_teams_are_listed_to_those_they_concern(city, as_, who, sees):
    answer = as_(city[who]).get("/api/v1/teams")

    assert answer.status_code == 200
    assert [team["name"] for team in answer.get_json()] == sees


def test_a_team_says_whom_it_serves_and_who_is_in_it(city, as_):
    listed = as_(city["admin"]).get("/api/v1/teams").get_json()

    shared = next(team for team in listed if team["name"] == "Shared")
    network = next(team for team in listed if team["name"] == "Network")
    assert shared["members"] == ["tech-shared"] and shared["email"] == "shared@example.org"
    assert len(shared["organisations"]) == 2 and shared["kinds"] == []
    assert network["kinds"] == ["hotspot"]


# -- the document -------------------------------------------------------------------------------


def test_the_openapi_document_describes_the_ticket_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    assert set(paths["/api/v1/tickets"]) == {"get", "post"}
    assert set(paths["/api/v1/tickets/{ticket_id}"]) == {"get"}
    for action in ("status", "assign", "comments"):
        operation = paths[f"/api/v1/tickets/{{ticket_id}}/{action}"]["post"]
        assert {"403", "404", "422"} <= set(operation["responses"])
    assert "409" in paths["/api/v1/tickets/{ticket_id}/status"]["post"]["responses"]
    assert set(paths["/api/v1/teams"]) == {"get"}
    assert "422" in paths["/api/v1/maintenance/figures"]["get"]["responses"]
