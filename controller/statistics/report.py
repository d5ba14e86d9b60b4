"""The monthly report of an organisation, as a PDF a manager sends to elected officials: the
dashboard's figures for one month in plain pages, rendered by Debian's WeasyPrint.

WeasyPrint runs as its own command (``weasyprint - -``: HTML on its standard input, the PDF on
its standard output), so the controller neither imports it nor its native libraries, and a
machine without it says so in words rather than failing at start.
"""

from __future__ import annotations

import calendar
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from controller.access import StaffMember
from controller.errors import DomainError
from controller.i18n import _
from controller.statistics.figures import (
    Dashboard,
    Period,
    Selection,
    figures_of,
    period_of,
    select_places,
)
from controller.statistics.rollups import LocalTime

WEASYPRINT = "weasyprint"
RENDER_TIMEOUT_S = 120


class ReportUnavailable(DomainError):
    status = 503
    code = "report_unavailable"


@dataclass(frozen=True)
class MonthlyReport:
    selection: Selection
    period: Period
    figures: Dashboard


def monthly_figures(
    session: Session,
    viewer: StaffMember,
    *,
    organisation_id: int,
    month: date,
    local: LocalTime,
) -> MonthlyReport:
    """The figures of one organisation's sites the reader covers, over the month of ``month``."""
    selection = select_places(session, viewer, organisation_id=organisation_id)
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    period = period_of(first, last, local)
    return MonthlyReport(selection, period, figures_of(session, selection, period))


def render_pdf(html: str, command: str = WEASYPRINT) -> bytes:
    """``html`` as a PDF, by WeasyPrint; 503 with what to install when it is missing or fails."""
    found = shutil.which(command)
    if found is None:
        raise ReportUnavailable(
            _(
                "the PDF report needs WeasyPrint, which is not installed on this server: "
                "install Debian's package (apt install weasyprint)"
            )
        )
    try:
        done = subprocess.run(
            [found, "--quiet", "-", "-"],
            input=html.encode(),
            capture_output=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReportUnavailable(
            _("WeasyPrint took more than %(s)d s to render the report", s=RENDER_TIMEOUT_S)
        ) from None
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF"):
        problem = done.stderr.decode(errors="replace").strip().splitlines()
        raise ReportUnavailable(
            _(
                "WeasyPrint could not render the report: %(problem)s",
                problem=problem[-1] if problem else done.returncode,
            )
        )
    return done.stdout
