"""Staff API for usage statistics (admins and managers): the dashboard's figures, whole or one
table at a time, over ``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (default the last 30 days) for
``?organisation=`` or ``?site=`` (default every place the caller covers).

Counts finer than a site and a day (an hour of the week, one device) are null when under 5:
hidden, with a second one where a single hidden count could be recomputed from a total.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session

from controller.accounts.current import signed_in
from controller.api.io import documented, json_response
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.statistics import figures as stats
from controller.statistics.query import StatisticsQuery, read_query
from controller.statistics.rollups import LocalTime

statistics_api = Blueprint("statistics", __name__)
T = TypeVar("T")

ERRORS = {
    400: "from or to not a day (YYYY-MM-DD), organisation or site not a row id",
    403: "your role does not read statistics, or the site or organisation is outside your places",
    404: "no such site or organisation",
    422: "the period ends before it starts or is longer than three years, or the site is not "
    "one of the organisation's",
}
QUERY = (
    "?from=YYYY-MM-DD&to=YYYY-MM-DD (days included; default the last 30 days), "
    "?organisation= or ?site= (default every place you cover)"
)


def _query() -> StatisticsQuery:
    local = LocalTime.of(settings_of(current_app).timezone)
    return read_query(request.args, local, utcnow().astimezone(local.zone).date())


def _figures() -> stats.Dashboard:
    query = _query()
    return stats.dashboard(
        db_session(),
        signed_in(),
        period=query.period,
        organisation_id=query.organisation_id,
        site_id=query.site_id,
    )


def _part(figures: Callable[[Session, stats.Selection, stats.Period], T]) -> T:
    """One part of the dashboard (its places checked as the whole one's), and only that part:
    a script reading the ranking does not pay for the hour-of-week grid."""
    query = _query()
    session = db_session()
    selection = stats.select_places(
        session, signed_in(), organisation_id=query.organisation_id, site_id=query.site_id
    )
    return figures(session, selection, query.period)


@statistics_api.get("/statistics")
@documented(
    f"Usage statistics over {QUERY}: totals, sites ranked, each day, occupancy by hour of the "
    "week, a site's devices (counts under 5 null)",
    response=stats.Dashboard,
    auth="staff",
    errors=ERRORS,
)
def get_statistics() -> Response:
    return json_response(_figures())


@statistics_api.get("/statistics/sites")
@documented(
    f"Sites side by side over {QUERY}, ranked: the busiest public PCs first",
    response=list[stats.SiteUsage],
    auth="staff",
    errors=ERRORS,
)
def get_site_ranking() -> Response:
    return json_response(_part(stats.site_ranking))


@statistics_api.get("/statistics/days")
@documented(
    f"Each day of {QUERY}, the places added up",
    response=list[stats.DayFigures],
    auth="staff",
    errors=ERRORS,
)
def get_days() -> Response:
    return json_response(_part(stats.daily))


@statistics_api.get("/statistics/week")
@documented(
    f"Public PCs' occupancy by hour of the week over {QUERY}, opening hours only (sessions "
    "under 5 null)",
    response=stats.WeekGrid,
    auth="staff",
    errors=ERRORS,
)
def get_week() -> Response:
    return json_response(_part(stats.week_grid))


@statistics_api.get("/statistics/devices")
@documented(
    f"One site's devices over {QUERY} (give ?site=; counts under 5 null)",
    response=list[stats.DeviceUsage],
    auth="staff",
    errors=ERRORS,
)
def get_devices() -> Response:
    return json_response(_part(stats.device_table))
