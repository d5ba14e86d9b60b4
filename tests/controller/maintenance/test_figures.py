"""Figures for managers (controller/maintenance/figures.py, GET /api/v1/maintenance/figures):
tickets per site and device, time to take and to solve per team and priority in working and
calendar hours, breaches, over what the caller may see, on a small week whose numbers are known.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from controller.access import Role
from controller.errors import DomainError, NotFound, PermissionDenied
from controller.maintenance import teams, tickets
from controller.maintenance.figures import Durations, ticket_figures
from controller.maintenance.models import TicketCategory, TicketPriority, TicketStatus
from tests.controller.testkit import sign_in
from tests.factories import make_device, make_organisation, make_site, make_user

PARIS = "Europe/Paris"
ZONE = ZoneInfo(PARIS)
WEEK = {"first_day": date(2025, 12, 1), "last_day": date(2025, 12, 3)}  # Monday to Wednesday
HOURS = "Mo-Fr 09:00-17:00"


def local(day: int, hour: int) -> datetime:
    """``hour`` o'clock in Grenoble on ``day`` December 2025 (the 1st is a Monday)."""
    return datetime(2025, 12, day, hour, tzinfo=ZONE)


NOW = local(3, 12)  # Wednesday noon


@pytest.fixture
def week(db):
    """Three structures: one served by the shared team (two PCs, three tickets in the week and
    one the week before), one by a team of its own (one ticket), one by nobody (one ticket)."""
    mdh, other, nobody = (make_organisation(db) for _ in range(3))
    shared = teams.create_team(db, "cli", name="Shared", organisations=[mdh.id])
    own = teams.create_team(db, "cli", name="Own", organisations=[other.id])
    technician = make_user(db, Role.TECHNICIAN)
    teams.add_member(db, "cli", shared, technician)
    teams.add_member(db, "cli", own, make_user(db, Role.TECHNICIAN))
    site = make_site(db, mdh, name="MDH Teisseire", opening_hours=HOURS)
    other_site = make_site(db, other, name="Other place", opening_hours=HOURS)
    lonely_site = make_site(db, nobody, name="Lonely place", opening_hours=HOURS)
    pc1, pc2 = make_device(db, site, name="pc-1"), make_device(db, site, name="pc-2")
    other_pc = make_device(db, other_site, name="pc-other")
    mediator = make_user(db, Role.MEDIATOR, sites=[site])

    def open_(at, device=None, site_=site, **fields):
        return tickets.open_ticket(
            db,
            "cli",
            site=site_,
            device=device,
            category=fields.pop("category", TicketCategory.SCREEN),
            timezone=PARIS,
            now=at,
            **fields,
        )

    def move(ticket, to, at):
        tickets.change_status(db, technician, ticket, to, timezone=PARIS, now=at)

    # Taken in 2 working hours (2 calendar), solved in 9 (25: a night between).
    first = open_(local(1, 9), pc1)
    tickets.assign(db, technician, first, technician, now=local(1, 11))
    move(first, TicketStatus.SOLVED, local(2, 10))
    # Taken in 2 working hours (18 calendar); waited a day for a part; solved in 4 working
    # hours, the wait left out (44 calendar, the wait in).
    second = open_(local(1, 16), pc1)
    tickets.assign(db, technician, second, technician, now=local(2, 10))
    move(second, TicketStatus.IN_PROGRESS, local(2, 10))
    move(second, TicketStatus.WAITING, local(2, 11))
    move(second, TicketStatus.IN_PROGRESS, local(3, 11))
    move(second, TicketStatus.SOLVED, local(3, 12))
    # Urgent, nobody took it: due to be taken Tuesday 10:00 and solved at 13:00.
    open_(local(2, 9), pc2, priority=TicketPriority.URGENT)
    # The week before: not in the period.
    open_(datetime(2025, 11, 24, 10, tzinfo=ZONE), pc1)
    # Another team's: due to be taken Monday 14:00, solved Wednesday 10:00.
    open_(local(1, 10), other_pc, site_=other_site)
    # No team serves this place; low priority, due to be taken Wednesday 17:00.
    open_(
        local(3, 9),
        site_=lonely_site,
        category=TicketCategory.OTHER,
        description="the door code",
        priority=TicketPriority.LOW,
    )
    db.flush()
    return {
        "mdh": mdh,
        "other": other,
        "site": site,
        "other_site": other_site,
        "technician": technician,
        "mediator": mediator,
        "manager": make_user(db, Role.MANAGER, organisations=[mdh]),
        "admin": make_user(db, Role.ADMIN),
        "pc1": pc1,
        "pc2": pc2,
        "other_pc": other_pc,
    }


def figures_of(db, viewer, **kwargs):
    return ticket_figures(db, viewer, **{**WEEK, "timezone": PARIS, "now": NOW, **kwargs})


def test_the_weeks_figures_per_site_device_team_and_priority(db, week):
    figures = figures_of(db, week["admin"])

    assert figures.tickets == 5
    assert [(s.site, s.tickets, s.open) for s in figures.sites] == [
        ("MDH Teisseire", 3, 1),
        ("Lonely place", 1, 1),
        ("Other place", 1, 1),
    ]
    assert [(d.device, d.tickets, d.open) for d in figures.devices] == [
        ("pc-1", 2, 0),
        ("pc-2", 1, 1),
        ("pc-other", 1, 1),
    ]
    rows = {(t.team, t.priority): t for t in figures.teams}
    assert list(rows) == [
        ("Own", "normal"),
        ("Shared", "urgent"),
        ("Shared", "normal"),
        ("", "low"),
    ]
    normal = rows[("Shared", "normal")]
    assert normal.tickets == 2
    assert normal.take == Durations(2, 2.0, 2.0, 10.0, 10.0)
    assert normal.solve == Durations(2, 6.5, 6.5, 34.5, 34.5)
    assert (normal.take_breaches, normal.solve_breaches) == (0, 0)
    urgent = rows[("Shared", "urgent")]
    assert urgent.take == Durations(0, None, None, None, None) == urgent.solve
    assert (urgent.take_breaches, urgent.solve_breaches) == (1, 1)
    assert (rows[("Own", "normal")].take_breaches, rows[("Own", "normal")].solve_breaches) == (1, 1)
    assert rows[("", "low")].team_id is None
    assert (rows[("", "low")].take_breaches, rows[("", "low")].solve_breaches) == (0, 0)


def test_a_day_period_counts_the_tickets_opened_that_day_in_the_sites_time_zone(db, week):
    # Monday 00:30 in Grenoble is still Sunday in UTC: it belongs to Monday.
    tickets.open_ticket(
        db, "cli", site=week["site"], category=TicketCategory.SCREEN, timezone=PARIS,
        now=local(1, 0) + timedelta(minutes=30),
    )  # fmt: skip

    monday = figures_of(db, week["admin"], first_day=date(2025, 12, 1), last_day=date(2025, 12, 1))

    assert monday.tickets == 4  # the two of the shared team, the other team's, this one


@pytest.mark.parametrize(
    ("who", "organisation", "tickets"),
    [
        ("manager", None, 3),  # their organisation's
        ("mediator", None, 3),  # their site's
        ("technician", None, 3),  # those of the organisation their team serves
        ("technician", "mdh", 3),
        ("admin", "other", 1),
    ],
)
def test_each_counts_only_what_they_may_see(db, week, who, organisation, tickets):
    organisation_id = week[organisation].id if organisation else None

    figures = figures_of(db, week[who], organisation_id=organisation_id)

    assert figures.tickets == tickets
    assert figures.organisation_id == organisation_id


@pytest.mark.parametrize("who", ["manager", "mediator", "technician"])
def test_an_organisation_outside_ones_places_is_refused(db, week, who):
    with pytest.raises(PermissionDenied, match="outside the places you cover"):
        figures_of(db, week[who], organisation_id=week["other"].id)


def test_a_period_that_ends_before_it_starts_or_an_unknown_organisation_is_refused(db, week):
    with pytest.raises(DomainError, match="before it starts") as refused:
        figures_of(db, week["admin"], first_day=date(2025, 12, 3), last_day=date(2025, 12, 1))
    with pytest.raises(NotFound):
        figures_of(db, week["admin"], organisation_id=999_999)

    assert refused.value.status == 422


def test_the_figures_take_the_same_few_queries_for_three_tickets_or_thirty(db, week, engine):
    def statements() -> int:
        seen: list[str] = []

        def note(*args):
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", note)
        try:
            figures_of(db, week["admin"])
        finally:
            event.remove(engine, "before_cursor_execute", note)
        return len(seen)

    few = statements()
    for hour in range(9, 17):
        for device in (week["pc1"], week["pc2"], week["other_pc"]):
            tickets.open_ticket(
                db, "cli", site=device.site, device=device, category=TicketCategory.SCREEN,
                timezone=PARIS, now=local(2, hour),
            )  # fmt: skip
    db.flush()
    db.expire_all()  # nothing of the tickets left in the session: any lazy load would show
    assert week["admin"].scopes == []  # (the viewer, read again before counting)
    many = statements()

    assert figures_of(db, week["admin"]).tickets == 5 + 24
    assert many == few <= 8


# -- through the API ----------------------------------------------------------------------------


@pytest.fixture
def signed_in_as(app):
    def client_of(user):
        client = app.test_client()
        assert sign_in(client, user).status_code == 302
        return client

    return client_of


def test_the_api_gives_the_figures_of_the_period(week, signed_in_as):
    answer = signed_in_as(week["manager"]).get(
        "/api/v1/maintenance/figures?from=2025-12-01&to=2025-12-03"
    )

    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["first_day"] == "2025-12-01" and body["last_day"] == "2025-12-03"
    assert body["tickets"] == 3 and body["organisation_id"] is None
    assert [(s["site"], s["tickets"]) for s in body["sites"]] == [("MDH Teisseire", 3)]
    assert [(d["device"], d["tickets"], d["open"]) for d in body["devices"]] == [
        ("pc-1", 2, 0),
        ("pc-2", 1, 1),
    ]
    normal, urgent = (
        next(t for t in body["teams"] if t["priority"] == p) for p in ("normal", "urgent")
    )
    assert normal["take"] == {
        "count": 2,
        "median_working_h": 2.0,
        "mean_working_h": 2.0,
        "median_calendar_h": 10.0,
        "mean_calendar_h": 10.0,
    }
    assert normal["solve"]["median_working_h"] == 6.5
    assert normal["solve"]["mean_calendar_h"] == 34.5
    # Long past now: the urgent ticket nobody took missed both its times.
    assert (urgent["take_breaches"], urgent["solve_breaches"]) == (1, 1)


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("from=2025-12-03&to=2025-12-01", 422, "before it starts"),
        ("from=2025-12-01", 400, "give to"),
        ("from=2025-12-01&to=3 December", 400, "to must be a day as YYYY-MM-DD"),
        ("from=2025-02-30&to=2025-12-01", 400, "from must be a day"),
        ("from=20251201&to=2025-12-03", 400, "from must be a day"),
        ("from=0001-01-01&to=9999-12-31", 422, "between the years"),
        ("from=2025-12-01&to=2025-12-03&organisation=abc", 400, "organisation must be"),
        ("from=2025-12-01&to=2025-12-03&organisation=999999", 404, "no organisation"),
    ],
)
def test_bad_figures_requests_get_a_clear_4xx(week, signed_in_as, query, status, says):
    answer = signed_in_as(week["admin"]).get(f"/api/v1/maintenance/figures?{query}")

    assert answer.status_code == status
    assert says in answer.get_json()["message"]


def test_a_reversed_period_is_explained_in_french(week, signed_in_as):
    answer = signed_in_as(week["admin"]).get(
        "/api/v1/maintenance/figures?from=2025-12-03&to=2025-12-01",
        headers={"Accept-Language": "fr"},
    )

    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid_period"
    assert answer.get_json()["message"] == (
        "la période se termine le 2025-12-01, avant de commencer le 2025-12-03"
    )


def test_the_api_refuses_an_organisation_outside_ones_places(week, signed_in_as):
    answer = signed_in_as(week["manager"]).get(
        f"/api/v1/maintenance/figures?from=2025-12-01&to=2025-12-03&organisation={week['other'].id}"
    )

    assert answer.status_code == 403 and answer.get_json()["error"] == "forbidden"
