"""Equipment on the staff pages: a site's equipment page and its CSV, the reconditioning CSV of
every place the reader covers, and the site page's panel that leads there.

For technicians and admins; :mod:`controller.maintenance.equipment` checks who may and works out
each row.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from babel.lists import format_list
from flask import Blueprint, Response, current_app, render_template
from flask_babel import get_locale
from flask_login import login_required

from controller.accounts.current import signed_in
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.fleet.forms import KIND_LABELS
from controller.maintenance import equipment
from controller.maintenance.equipment import Thresholds, Verdict
from controller.places import service as places
from controller.places.models import Site
from controller.web.pages import Page
from controller.web.panels import Refused

equipment_web = Blueprint("equipment", __name__, template_folder="templates")

# Each verdict by a word and a pictogram, never by colour alone (WCAG 1.4.1); the class gives
# the badge its colour (web/static/app.css).
VERDICTS = {
    Verdict.TO_RECONDITION: ("circle-alert", "status-concern"),
    Verdict.FIT: ("circle-check", "status-online"),
    Verdict.NO_INVENTORY: ("circle-dashed", "status-new"),
    Verdict.NOT_JUDGED: ("circle-dashed", "status-new"),
}


@equipment_web.get("/sites/<int:site_id>/equipment")
@login_required
def site_equipment(site_id: int) -> Page:
    session = db_session()
    me = signed_in()
    site = places.get_site(session, me, site_id)
    thresholds = _thresholds()
    rows = equipment.site_equipment(session, me, site, thresholds, _today())
    return render_template(
        "maintenance/equipment.html",
        site=site,
        rows=rows,
        tally=equipment.tally(rows),
        criteria=_criteria(thresholds),
        VERDICTS=VERDICTS,
        verdict_words=equipment.verdict_words,
        reason_words=equipment.reason_words,
        kind_words=KIND_LABELS,
    )


@equipment_web.get("/sites/<int:site_id>/equipment.csv")
@login_required
def site_equipment_csv(site_id: int) -> Response:
    """Every device of the site, flagged PCs first."""
    session = db_session()
    me = signed_in()
    site = places.get_site(session, me, site_id)
    rows = equipment.site_equipment(session, me, site, _thresholds(), _today())
    return _csv(rows, f"borne-equipment-{_filename_part(site.slug)}")


@equipment_web.get("/equipment/reconditioning.csv")
@login_required
def reconditioning_csv() -> Response:
    """The public PCs to recondition of every place the reader covers, by place."""
    rows = equipment.to_recondition(db_session(), signed_in(), _thresholds(), _today())
    return _csv(rows, "borne-reconditioning")


def equipment_panel(site: Site, refused: Refused | None) -> dict[str, Any] | None:
    """The site page's line about its equipment and what is to recondition, with the link to
    the equipment page: for those who may read it."""
    me = signed_in()
    if not equipment.may_read_equipment(me, site):
        return None
    rows = equipment.site_equipment(db_session(), me, site, _thresholds(), _today())
    return {"site": site, "tally": equipment.tally(rows), "total": len(rows)}


def _csv(rows: list[equipment.Equipment], name: str) -> Response:
    kind_words = {kind: str(label) for kind, label in KIND_LABELS.items()}
    response = Response(equipment.csv_text(rows, kind_words), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{_today():%Y%m%d}.csv"'
    response.headers["Cache-Control"] = "no-store"  # serial numbers: not for shared caches
    return response


def _thresholds() -> Thresholds:
    return Thresholds.of(settings_of(current_app))


def _today() -> date:
    """Today in the city (ages turn at its midnight, not at UTC's)."""
    return utcnow().astimezone(ZoneInfo(settings_of(current_app).timezone)).date()


def _criteria(thresholds: Thresholds) -> str:
    """The criteria in force in one phrase: "less than 4 GB of memory, … or more than 8 years
    old"; empty when every criterion is off."""
    words = equipment.threshold_words(thresholds)
    locale = get_locale()
    return format_list(words, style="or", locale=str(locale) if locale else "fr") if words else ""


def _filename_part(text: str) -> str:
    """``text`` fit for a file name in a header: letters, digits and dashes only."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-") or "site"
