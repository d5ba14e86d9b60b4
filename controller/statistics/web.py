"""The managers' dashboard at /statistics, its tables as CSV files, the monthly PDF report, and
the site page's panel leading there.

Views read the query (controller/statistics/query.py), ask controller/statistics/figures.py
(which checks who may read which places), then render. Every chart has its table beside it
with the same numbers; the charts' figures travel in a JSON block that static/statistics.js
draws with the vendored Chart.js (no inline script: the pages' CSP forbids it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Flask, Response, render_template, request, url_for
from flask_babel import format_date
from flask_login import login_required

from agent.protocol import DeviceKind, SessionEnd
from controller.access import Action
from controller.accounts.current import signed_in
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.errors import NotFound
from controller.fleet.forms import KIND_LABELS
from controller.i18n import _, _l
from controller.places.models import Site
from controller.spreadsheet import safe_cell
from controller.statistics import figures as stats
from controller.statistics import report
from controller.statistics.privacy import HIDDEN
from controller.statistics.query import StatisticsQuery, read_month, read_query
from controller.statistics.rollups import LocalTime
from controller.web.pages import NavItem, add_navigation
from controller.web.panels import Panel, Refused, add_panel

statistics_web = Blueprint(
    "statistics",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/statistics",
)

# How each session ended, in words.
ENDED_WORDS = {
    SessionEnd.LOGOUT: _l("Logged out"),
    SessionEnd.IDLE: _l("Left idle"),
    SessionEnd.MAX_DURATION: _l("Reached the longest session"),
    SessionEnd.COMMAND: _l("Reset by a mediator"),
    SessionEnd.LOCAL: _l("Reset at the PC"),
}
# What stands out in the ranking, by a word and a pictogram (never by colour alone).
VERDICTS = {
    "saturated": (_l("Saturated"), "hourglass"),
    "little_used": (_l("Little used"), "circle-dashed"),
}
WEEKDAYS = [
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
]
TABLES = ("sites", "days", "week", "devices", "ended")


def local_time() -> LocalTime:
    from flask import current_app

    return LocalTime.of(settings_of(current_app).timezone)


def today(local: LocalTime) -> date:
    return utcnow().astimezone(local.zone).date()


def percent(value: float | None) -> str:
    """A share as the tables show it: "42 %", "—" when there is nothing to measure."""
    return "—" if value is None else f"{round(value * 100)} %"


def count(value: int | None) -> str:
    """A protected count: the number, or "< 5"."""
    return HIDDEN if value is None else str(value)


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


# --- the tables, once for the page, the CSV files and the report -------------------------------


Table = tuple[list[str], list[list[str]]]  # headings, rows of cells as shown


def sites_table(figures: stats.Dashboard) -> Table:
    headings = [
        _("Rank"),
        _("Site"),
        _("Organisation"),
        _("Public PCs"),
        _("Occupancy"),
        _("Sessions"),
        _("Sessions per PC per day"),
        _("Hours in use"),
        _("Availability"),
        _("Phones charged"),
        _("Wifi connections"),
        _("Wifi devices per day"),
        _("Most wifi devices at once"),
        _("Tickets opened"),
        _("Tickets solved"),
        _("Median time to solve (h)"),
        _("Stands out"),
    ]
    rows = [
        [
            str(rank),
            site.site,
            site.organisation,
            str(site.pcs),
            percent(site.occupancy),
            str(site.pc_sessions),
            number(site.sessions_per_pc_day),
            number(site.pc_in_use_h),
            percent(site.availability),
            str(site.charging_sessions),
            str(site.wifi_connections),
            number(site.wifi_unique_per_day),
            str(site.wifi_peak_clients),
            str(site.tickets_opened),
            str(site.tickets_solved),
            number(site.solve_median_h),
            str(VERDICTS[site.verdict][0]) if site.verdict else "",
        ]
        for rank, site in enumerate(figures.sites, 1)
    ]
    return headings, rows


def days_table(figures: stats.Dashboard) -> Table:
    headings = [
        _("Day"),
        _("Sessions"),
        _("Hours in use"),
        _("Occupancy"),
        _("Phones charged"),
        _("Wifi connections"),
        _("Wifi devices"),
    ]
    rows = [
        [
            day.day.isoformat(),
            str(day.pc_sessions),
            number(day.pc_in_use_h),
            percent(day.occupancy),
            str(day.charging_sessions),
            str(day.wifi_connections),
            str(day.wifi_unique),
        ]
        for day in figures.days
    ]
    return headings, rows


def week_table(figures: stats.Dashboard) -> Table:
    headings = [_("Day of the week"), _("Hour"), _("Sessions started"), _("Occupancy")]
    rows = [
        [
            str(WEEKDAYS[cell.weekday]),
            f"{cell.hour:02d}:00",
            count(cell.sessions),
            percent(cell.occupancy) if cell.sessions is not None else HIDDEN,
        ]
        for cell in figures.week.cells
    ]
    return headings, rows


def devices_table(figures: stats.Dashboard) -> Table:
    headings = [
        _("Device"),
        _("Kind"),
        _("Sessions"),
        _("Hours in use"),
        _("Occupancy"),
        _("Phones charged"),
        _("Wifi connections"),
        _("Availability"),
    ]
    rows = []
    for device in figures.devices:
        kind = DeviceKind(device.kind)
        rows.append(
            [
                device.name,
                str(KIND_LABELS.get(kind, kind.value)),
                count(device.pc_sessions) if kind == DeviceKind.PC else "—",
                number(device.pc_in_use_h)
                if device.pc_sessions is not None
                else (HIDDEN if kind == DeviceKind.PC else "—"),
                percent(device.occupancy)
                if device.pc_sessions is not None or kind != DeviceKind.PC
                else HIDDEN,
                count(device.charging_sessions) if kind == DeviceKind.KIOSK else "—",
                count(device.wifi_connections) if kind == DeviceKind.HOTSPOT else "—",
                percent(device.availability),
            ]
        )
    return headings, rows


def ended_table(figures: stats.Dashboard) -> Table:
    headings = [_("How the session ended"), _("Sessions")]
    rows = [
        [str(ENDED_WORDS[end]), str(figures.totals.ended_by.get(end.value, 0))]
        for end in SessionEnd
    ]
    return headings, rows


TABLE_MAKERS: dict[str, Callable[[stats.Dashboard], Table]] = {
    "sites": sites_table,
    "days": days_table,
    "week": week_table,
    "devices": devices_table,
    "ended": ended_table,
}


def csv_text(headings: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table as CSV whose cells a spreadsheet shows as text, never runs as formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in headings])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


# --- the pages -----------------------------------------------------------------------------------


def _asked() -> tuple[StatisticsQuery, stats.Selection, stats.Dashboard]:
    session = db_session()
    me = signed_in()
    stats.require_reader(me)
    local = local_time()
    query = read_query(request.args, local, today(local))
    selection = stats.select_places(
        session, me, organisation_id=query.organisation_id, site_id=query.site_id
    )
    return query, selection, stats.figures_of(session, selection, query.period)


def chart_data(figures: stats.Dashboard) -> dict[str, Any]:
    """What static/statistics.js draws: the same numbers as the tables beside the charts."""
    return {
        "sites": {
            "labels": [site.site for site in figures.sites],
            "occupancy": [
                None if site.occupancy is None else round(site.occupancy * 100)
                for site in figures.sites
            ],
            "availability": [
                None if site.availability is None else round(site.availability * 100)
                for site in figures.sites
            ],
            "label_occupancy": _("Occupancy (%)"),
            "label_availability": _("Availability (%)"),
        },
        "days": {
            "labels": [format_date(day.day, "d MMM") for day in figures.days],
            "sessions": [day.pc_sessions for day in figures.days],
            "charging": [day.charging_sessions for day in figures.days],
            "wifi": [day.wifi_unique for day in figures.days],
            "label_sessions": _("Sessions"),
            "label_charging": _("Phones charged"),
            "label_wifi": _("Wifi devices"),
        },
        "ended": {
            "labels": [str(ENDED_WORDS[end]) for end in SessionEnd],
            "values": [figures.totals.ended_by.get(end.value, 0) for end in SessionEnd],
            "label": _("Sessions"),
        },
    }


def heat_class(occupancy: float | None) -> str:
    """A cell of the hours of the week: its shade (its number is written in it too)."""
    if occupancy is None:
        return "heat-hidden"
    return f"heat-{min(4, int(occupancy * 5))}"


@statistics_web.get("/statistics")
@login_required
def dashboard() -> str:
    query, selection, figures = _asked()
    session = db_session()
    me = signed_in()
    organisations = stats.organisations_of(session, me)
    choosable = stats.select_places(session, me, organisation_id=query.organisation_id).sites
    local = local_time()
    return render_template(
        "statistics/dashboard.html",
        query=query,
        selection=selection,
        figures=figures,
        organisations=organisations,
        choosable_sites=choosable,
        tables={name: maker(figures) for name, maker in TABLE_MAKERS.items()},
        charts=chart_data(figures),
        WEEKDAYS=WEEKDAYS,
        VERDICTS=VERDICTS,
        ENDED_WORDS=ENDED_WORDS,
        heat_class=heat_class,
        percent=percent,
        count=count,
        number=number,
        report_month=read_month({}, today(local)),
        hidden_word=HIDDEN,
    )


@statistics_web.get("/statistics/<table>.csv")
@login_required
def table_csv(table: str) -> Response:
    if table not in TABLE_MAKERS:
        raise NotFound(
            _(
                "no table %(table)s: one of %(tables)s",
                table=repr(table[:40]),
                tables=", ".join(TABLES),
            )
        )
    query, _selection, figures = _asked()
    headings, rows = TABLE_MAKERS[table](figures)
    name = f"statistics-{table}-{query.period.first_day}-{query.period.last_day}.csv"
    return Response(
        csv_text(headings, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def report_html(monthly: report.MonthlyReport, generated: datetime) -> str:
    figures = monthly.figures
    return render_template(
        "statistics/report.html",
        monthly=monthly,
        figures=figures,
        tables={name: maker(figures) for name, maker in TABLE_MAKERS.items()},
        busiest=sorted(
            (c for c in figures.week.cells if c.occupancy is not None),
            key=lambda c: -(c.occupancy or 0),
        )[:5],
        WEEKDAYS=WEEKDAYS,
        VERDICTS=VERDICTS,
        percent=percent,
        number=number,
        generated=generated,
    )


@statistics_web.get("/statistics/report.pdf")
@login_required
def report_pdf() -> Response:
    """The monthly report of ``?organisation=`` for ``?month=YYYY-MM`` (default last month)."""
    from controller.statistics.query import row_id

    session = db_session()
    me = signed_in()
    stats.require_reader(me)
    local = local_time()
    organisation_id = row_id(request.args, "organisation")
    if organisation_id is None:
        from controller.errors import DomainError

        raise DomainError(_("choose the organisation of the report"), code="no_organisation")
    month = read_month(request.args, today(local))
    monthly = report.monthly_figures(
        session, me, organisation_id=organisation_id, month=month, local=local
    )
    pdf = report.render_pdf(report_html(monthly, utcnow()))
    assert monthly.selection.organisation is not None
    name = f"report-{monthly.selection.organisation.id}-{month:%Y-%m}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def site_panel(site: Site, _refused: Refused | None) -> dict[str, Any] | None:
    """The site's last 30 days in three figures and the way to the dashboard, for those who
    read statistics (nothing for the others)."""
    me = signed_in()
    if not stats.may_read(me):
        return None
    local = local_time()
    first, last = stats.default_days(today(local))
    period = stats.period_of(first, last, local)
    selection = stats.select_places(db_session(), me, site_id=site.id)
    (figures,) = stats.site_ranking(db_session(), selection, period)
    return {
        "site": site,
        "figures": figures,
        "percent": percent,
        "link": url_for("statistics.dashboard", site=site.id, organisation=site.organisation_id),
    }


def init_web(app: Flask) -> None:
    app.register_blueprint(statistics_web)
    add_navigation(
        app,
        NavItem(
            "statistics.dashboard",
            _l("Statistics"),
            "chart-column",
            Action.VIEW_STATISTICS,
            25,
        ),
    )
    add_panel(app, "site", Panel("statistics", "statistics/_site_panel.html", site_panel, 60))
