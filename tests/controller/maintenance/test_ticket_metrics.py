"""Open tickets and breached service levels for Prometheus
(controller/maintenance/ticket_metrics.py): by team and priority, read at scrape time, with
every team's series present at 0."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from agent.protocol import DeviceKind
from controller.access import Role
from controller.maintenance import teams, tickets
from controller.maintenance.models import TicketCategory, TicketPriority, TicketStatus
from controller.maintenance.ticket_metrics import TicketCollector
from tests.factories import make_device, make_organisation, make_site, make_user

PARIS = "Europe/Paris"
ZONE = ZoneInfo(PARIS)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """In Grenoble, December 2025 (the 1st is a Monday); sites open Mo-Fr 09:00-17:00."""
    return datetime(2025, 12, day, hour, minute, tzinfo=ZONE)


NOW = local(3, 12)  # Wednesday noon


@pytest.fixture
def registry(app):
    registry = CollectorRegistry()
    registry.register(TicketCollector(app.extensions["borne.db"], lambda: NOW))
    return registry


@pytest.fixture
def week(db):
    """Tickets of the shared team in every state, one of the network team, one no team serves."""
    mdh, nobody = make_organisation(db), make_organisation(db)
    shared = teams.create_team(db, "cli", name="Shared", organisations=[mdh.id])
    teams.create_team(db, "cli", name="Network", organisations=[mdh.id], kinds=["hotspot"])
    technician = make_user(db, Role.TECHNICIAN)
    teams.add_member(db, "cli", shared, technician)
    site = make_site(db, mdh, opening_hours="Mo-Fr 09:00-17:00")
    lonely = make_site(db, nobody, opening_hours="Mo-Fr 09:00-17:00")
    pc, hotspot = make_device(db, site), make_device(db, site, kind=DeviceKind.HOTSPOT)

    def ticket(at, priority=TicketPriority.NORMAL, device=pc, site_=site, steps=()):
        opened = tickets.open_ticket(
            db,
            "cli",
            site=site_,
            device=device,
            category=TicketCategory.SCREEN,
            priority=priority,
            timezone=PARIS,
            now=at,
        )
        for to, when in steps:
            if to is TicketStatus.ASSIGNED:
                tickets.assign(db, technician, opened, technician, now=when)
            else:
                tickets.change_status(db, technician, opened, to, timezone=PARIS, now=when)
        return opened

    taken = (TicketStatus.ASSIGNED, local(1, 9, 30))
    # Nobody took it: due to be taken Tuesday 10:00, solved Tuesday 13:00.
    ticket(local(2, 9), TicketPriority.URGENT)
    # Taken in time, not due yet.
    ticket(local(3, 9), steps=[(TicketStatus.ASSIGNED, local(3, 9, 30))])
    # In progress past its solving time (Tuesday 17:00).
    ticket(local(1, 9), steps=[taken, (TicketStatus.IN_PROGRESS, local(1, 10))])
    # High (solve within 8 h: Monday 17:00), waiting since before then: the clock stands still.
    ticket(local(1, 9), TicketPriority.HIGH, steps=[taken, (TicketStatus.WAITING, local(1, 10))])
    # High, waiting only since Tuesday: it was late already.
    ticket(local(1, 9), TicketPriority.HIGH, steps=[taken, (TicketStatus.WAITING, local(2, 10))])
    # Solved late, and closed: no longer open, not counted.
    ticket(local(1, 9), steps=[taken, (TicketStatus.SOLVED, local(3, 11))])
    ticket(
        local(1, 9),
        steps=[taken, (TicketStatus.SOLVED, local(1, 11)), (TicketStatus.CLOSED, local(1, 12))],
    )
    # The network team's, and one at a place no team serves.
    ticket(local(3, 11), device=hotspot)
    ticket(local(3, 9), TicketPriority.LOW, device=None, site_=lonely)
    db.flush()


def samples(registry, name):
    return {
        tuple(sample.labels.values()): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name
    }


def test_open_tickets_by_team_and_priority_every_team_at_zero_included(week, registry):
    opened = samples(registry, "borne_tickets_open")

    expected = {(team, str(p)): 0.0 for team in ("", "Network", "Shared") for p in TicketPriority}
    expected |= {
        ("Shared", "urgent"): 1.0,
        ("Shared", "high"): 2.0,
        ("Shared", "normal"): 2.0,  # the solved and the closed ones are not open
        ("Network", "normal"): 1.0,
        ("", "low"): 1.0,  # no team serves that place
    }
    assert opened == expected


def test_open_tickets_past_their_service_levels_by_target(week, registry):
    breached = samples(registry, "borne_tickets_breached")

    late = {k: v for k, v in breached.items() if v}
    assert late == {
        ("Shared", "urgent", "take"): 1.0,  # nobody took it
        ("Shared", "urgent", "solve"): 1.0,
        ("Shared", "normal", "solve"): 1.0,  # in progress past its time
        ("Shared", "high", "solve"): 1.0,  # waiting, but only since after its due time
    }
    assert len(breached) == 3 * 4 * 2  # every team, priority and target, 0 included


def test_exactly_the_two_ticket_families_with_their_labels(app, registry):
    families = {family.name: family for family in registry.collect()}

    assert set(families) == {"borne_tickets_open", "borne_tickets_breached"}
    # No team yet: the series of tickets no team serves are there, at 0.
    assert {tuple(s.labels) for s in families["borne_tickets_open"].samples} == {
        ("team", "priority")
    }
    assert {tuple(s.labels) for s in families["borne_tickets_breached"].samples} == {
        ("team", "priority", "target")
    }
    assert sum(s.value for f in families.values() for s in f.samples) == 0


def test_the_app_serves_them_at_metrics(week, client):
    text = client.get("/metrics").get_data(as_text=True)

    served = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    open_urgent = (("priority", "urgent"), ("team", "Shared"))
    network_urgent_take = (("priority", "urgent"), ("target", "take"), ("team", "Network"))
    assert served[("borne_tickets_open", open_urgent)] == 1.0
    assert served[("borne_tickets_breached", network_urgent_take)] == 0.0
