"""Open tickets and their breached service levels at ``/metrics``, read at scrape time.

``borne_tickets_open{team, priority}`` counts the tickets still to be repaired (new, assigned,
in progress, waiting); ``borne_tickets_breached{team, priority, target}`` those of them past
their time to be taken (``take``) or to be solved (``solve``), as :func:`tickets.breaches`
judges them: due times are counted in the site's opening hours when the ticket opens or
resumes, so "past due" is a comparison with now, and the solving clock stands still while a
ticket waits. ``team`` is the team's name, "" for the tickets no team serves (an organisation
nobody repairs for: worth an alert of its own).

Every team gets a series for each priority, 0 included, so that a dashboard lists the teams
and a rule sees a breach go back to 0 rather than disappear. Two queries per scrape (the
teams, the open tickets with their team's name), whatever the history kept: solved and
closed tickets are not read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.orm import load_only

from controller.db import Database, utcnow
from controller.maintenance import tickets
from controller.maintenance.models import Team, Ticket, TicketPriority

NO_TEAM = ""
TARGETS = ("take", "solve")


class TicketCollector(Collector):
    def __init__(self, database: Database, now: Callable[[], datetime] = utcnow) -> None:
        self._database = database
        self._now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        opened = GaugeMetricFamily(
            "borne_tickets_open",
            "Tickets still to be repaired (new, assigned, in progress, waiting) by team and "
            'priority; team "" when no team serves the place',
            labels=["team", "priority"],
        )
        breached = GaugeMetricFamily(
            "borne_tickets_breached",
            "Open tickets past their service level, by team, priority and target (take: not "
            "taken in time, solve: not solved in time), counted in the sites' opening hours",
            labels=["team", "priority", "target"],
        )
        now = self._now()
        open_counts: Counter[tuple[str, str]] = Counter()
        breach_counts: Counter[tuple[str, str, str]] = Counter()
        with self._database.session(writes=False) as session:
            teams = [NO_TEAM, *session.scalars(select(Team.name).order_by(Team.name))]
            for ticket, team in session.execute(
                select(Ticket, Team.name)
                .outerjoin(Team, Team.id == Ticket.team_id)
                .where(Ticket.status.in_(list(tickets.OPEN_STATUSES)))
                .options(
                    load_only(
                        Ticket.status,
                        Ticket.priority,
                        Ticket.opened_at,
                        Ticket.taken_at,
                        Ticket.solved_at,
                        Ticket.take_due_at,
                        Ticket.solve_due_at,
                        Ticket.waiting_since,
                    )
                )
            ):
                team = team or NO_TEAM
                priority = str(ticket.priority)
                open_counts[(team, priority)] += 1
                missed = tickets.breaches(ticket, now)
                breach_counts[(team, priority, "take")] += missed.take
                breach_counts[(team, priority, "solve")] += missed.solve
        for team in teams:
            for priority in map(str, TicketPriority):
                opened.add_metric([team, priority], open_counts[(team, priority)])
                for target in TARGETS:
                    breached.add_metric(
                        [team, priority, target], breach_counts[(team, priority, target)]
                    )
        yield opened
        yield breached
