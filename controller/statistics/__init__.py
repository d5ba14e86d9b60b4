"""Usage statistics for managers: hourly rollups per device kept up to date as data arrives,
the dashboard at /statistics (sites side by side and ranked, charts with their tables, CSV),
the monthly PDF report per organisation, and the API under /api/v1/statistics."""

from __future__ import annotations

from functools import partial

from flask import Flask


def rollups_job(app: Flask) -> None:
    """The periodic job: settle the opening hours of the hours that ended, sample availability.
    Safe in several processes: each clock moves once (controller/statistics/rollups.py)."""
    from controller.context import database_of, settings_of
    from controller.fleet.condition import concern_finders
    from controller.places.opening_hours import SchedulePolicy
    from controller.statistics import rollups

    timezone = settings_of(app).timezone
    local = rollups.LocalTime.of(timezone)
    policy = SchedulePolicy(timezone=timezone)
    with database_of(app).session() as session:
        rollups.settle_open_hours(session, local, policy)
        rollups.sample_availability(session, local, policy, concern_finders(app))


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from agent.protocol import ChargingSession, PortalStats, SessionRecord
    from controller.api import add_api
    from controller.context import settings_of
    from controller.fleet.ingest import ingest_of
    from controller.jobs import add_job
    from controller.statistics import rollups
    from controller.statistics.api import statistics_api
    from controller.statistics.web import init_web

    init_web(app)
    add_api(app, statistics_api)
    local = rollups.LocalTime.of(settings_of(app).timezone)
    handlers = ingest_of(app).handlers
    handlers.follow(SessionRecord, partial(rollups.session_event, local))
    handlers.follow(ChargingSession, partial(rollups.charging_event, local))
    handlers.follow(PortalStats, partial(rollups.wifi_event, local))
    add_job(app, "statistics", rollups.SAMPLE_EVERY_S, rollups_job)
