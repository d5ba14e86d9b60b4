"""Scheduled commands: each site's opening hours turned into wake-ups, shutdowns and nightly
maintenance, issued as ordinary commands (so they are audited, delivered and reported alike).

Every controller process may run :func:`issue_due`; each planned action is issued once, keyed by
site, action and time (a unique ``schedule_key``), whichever process gets there first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.protocol import CommandName, DeviceKind
from controller.commands import service as commands
from controller.commands.delivery import push_commands
from controller.commands.models import Command
from controller.context import database_of
from controller.db import utcnow
from controller.errors import DomainError
from controller.places.models import Site, SiteClosure
from controller.places.opening_hours import Closure, PlannedAction, ScheduledAction, SchedulePolicy
from controller.places.opening_hours import planned_actions as plan
from controller.realtime import hub_of

log = logging.getLogger(__name__)
SCHEDULE_ACTOR = "schedule"

# What each planned action asks, and of which devices. Only PCs are woken and shut down: the
# kiosks and the hotspots serve outside opening hours too.
ACTIONS: dict[ScheduledAction, tuple[CommandName, frozenset[DeviceKind]]] = {
    ScheduledAction.WAKE: (CommandName.WAKE, frozenset({DeviceKind.PC})),
    ScheduledAction.SHUTDOWN: (CommandName.SHUTDOWN, frozenset({DeviceKind.PC})),
    ScheduledAction.MAINTENANCE: (CommandName.MAINTENANCE, frozenset(DeviceKind)),
}


def closures_of(site: Site, session: Session) -> list[Closure]:
    return [
        Closure(c.starts_on, c.ends_on, c.reason)
        for c in session.scalars(select(SiteClosure).where(SiteClosure.site_id == site.id))
    ]


def site_plan(
    session: Session, site: Site, start: datetime, end: datetime, policy: SchedulePolicy
) -> list[PlannedAction]:
    """What the schedule will do at ``site`` between ``start`` and ``end``."""
    if not site.opening_hours.strip():
        return []
    return plan(site.opening_hours, start, end, policy=policy, closures=closures_of(site, session))


def issue_due(
    session: Session, start: datetime, end: datetime, policy: SchedulePolicy
) -> list[Command]:
    """Issue the commands planned in ``[start, end)`` that no process has issued yet."""
    issued: list[Command] = []
    # Plans first, devices only for the sites with something to do: this runs every half
    # minute in every process, under fleets of thousands.
    for site in session.scalars(select(Site).where(Site.opening_hours != "")):
        try:
            actions = site_plan(session, site, start, end, policy)
        except DomainError as exc:  # a bad expression stops this site only, and says so
            log.warning("no schedule for %s: %s", site.slug, exc.message)
            continue
        for action in actions:
            issued.extend(_issue(session, site, action))
    return issued


def _issue(session: Session, site: Site, action: PlannedAction) -> list[Command]:
    name, kinds = ACTIONS[action.action]
    key = f"schedule:{site.id}:{action.action.value}:{action.at:%Y%m%dT%H%M}"
    done = []
    for device in site.devices:
        if device.kind not in kinds:
            continue
        if (
            session.scalar(select(Command.id).where(Command.schedule_key == f"{key}:{device.id}"))
            is not None
        ):
            continue  # another process, or an earlier tick, issued it
        try:
            with session.begin_nested():
                done.extend(
                    commands.issue(
                        session,
                        SCHEDULE_ACTOR,
                        name,
                        device_ids=[device.id],
                        schedule_key=key,
                        pushed=True,
                        ttl=timedelta(minutes=30),
                    )
                )
        except IntegrityError:
            continue  # issued by another process at the same moment
        except DomainError as exc:  # e.g. nobody online to wake this PC
            log.warning(
                "%s of %s at %s skipped: %s",
                action.action.value,
                device.name,
                site.slug,
                exc.message,
            )
    return done


class ScheduleJob:
    """The periodic job: issue what came due since its last run, and push it at once."""

    def __init__(self, timezone: str) -> None:
        self.policy = SchedulePolicy(timezone=timezone)
        self.issued_until = utcnow() - timedelta(minutes=2)  # catch up a little after a restart

    def __call__(self, app: Flask) -> None:
        now = utcnow()
        with database_of(app).session() as session:
            issued = issue_due(session, self.issued_until, now, self.policy)
        self.issued_until = now
        push_commands(hub_of(app), issued)
