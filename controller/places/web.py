"""The places' pages: a site's page (its facts, then every domain's panels), its schedule panel,
the form that closes it for some days, and its open-data fields: their edit page (admins) and the
list of the public places that the open-data export leaves out, and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import access
from controller.access import Action
from controller.accounts.current import signed_in
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.errors import DomainError
from controller.i18n import _
from controller.places import schedule
from controller.places import service as places
from controller.places.forms import ClosureForm, OpenDataForm
from controller.places.hours import may_edit_hours, week_of
from controller.places.models import Site
from controller.places.open_data_fields import (
    FIELD_WORDS,
    InvalidFields,
    missing_for_export,
    required_words,
)
from controller.places.opening_hours import SchedulePolicy
from controller.web.pages import Page
from controller.web.panels import Refused, render_panels, save_form, show_refusal

places_web = Blueprint("places", __name__, template_folder="templates")

EXPORT_BLUEPRINT = "open_data_export"  # the public_places domain's, when it is installed


@places_web.get("/sites/<int:site_id>")
@login_required
def site(site_id: int) -> Page:
    return render_site_page(places.get_site(db_session(), signed_in(), site_id))


def render_site_page(found: Site, refused: Refused | None = None) -> str:
    """The site's page; ``refused``: a panel's form shown again with why it was refused."""
    try:
        week = week_of(found.opening_hours or "")
    except DomainError:
        week = None  # unreadable hours: shown as they were entered, for someone to fix them
    return render_template(
        "places/site.html",
        site=found,
        panels=render_panels("site", found, refused),
        week=week,
        may_edit_hours=may_edit_hours(found),
        may_edit_open_data=may_edit_hours(found),  # the same rule: who manages the place
        open_data_missing=required_words(missing_for_export(found)),
        open_data_export_url=_export_url(),
        field_words=FIELD_WORDS,
    )


def _export_url() -> str | None:
    """Where the published CSV is, if this controller publishes it."""
    if EXPORT_BLUEPRINT not in current_app.blueprints:
        return None
    return url_for(f"{EXPORT_BLUEPRINT}.places_csv")


@places_web.route("/sites/<int:site_id>/open-data", methods=["GET", "POST"])
@login_required
def edit_open_data(site_id: int) -> Page | Response:
    session = db_session()
    me = signed_in()
    found = places.get_site(session, me, site_id)
    access.require(me, Action.MANAGE_PLACES, found)
    form = OpenDataForm(obj=found)
    error = None
    if form.validate_on_submit():
        zone = ZoneInfo(settings_of(current_app).timezone)
        try:
            changed = places.set_open_data(
                session, me, found, form.typed(), today=datetime.now(zone).date()
            )
        except InvalidFields as exc:
            session.rollback()
            for name, problem in exc.problems.items():
                getattr(form, name).errors = [problem]
            error = _("Some fields are refused: see why under each of them. Nothing was saved.")
        else:
            session.commit()
            flash(
                _("Open-data fields of %(site)s saved.", site=found.name)
                if changed
                else _("Nothing changed: the data is now dated today."),
                "success",
            )
            return redirect(url_for("places.site", site_id=found.id) + "#open-data")
    elif request.method == "POST":
        # An expired form says so; a field over its length says why under it.
        error = " ".join(form.csrf_token.errors) or _(
            "Some fields are refused: see why under each of them. Nothing was saved."
        )
    page = render_template("places/open_data.html", site=found, form=form, error=error)
    return page, (400 if error else 200)


@places_web.get("/sites/open-data")
@login_required
def open_data_status() -> Page:
    """The public places the staff member covers that the open-data export leaves out."""
    me = signed_in()
    sites = db_session().scalars(
        places.visible_sites_query(me).where(Site.public.is_(True)).order_by(Site.name)
    )
    left_out = []
    published = 0
    for site in sites:
        missing = missing_for_export(site)
        if missing:
            left_out.append((site, required_words(missing)))
        else:
            published += 1
    return render_template(
        "places/open_data_status.html",
        left_out=left_out,
        published=published,
        export_url=_export_url(),
        may_edit=access.can(me, Action.MANAGE_PLACES),
    )


def schedule_panel(found: Site, refused: Refused | None) -> dict[str, Any]:
    """What the opening hours make the PCs do in the next 7 days, and the closures to come."""
    session = db_session()
    me = signed_in()
    settings = settings_of(current_app)
    start = utcnow()
    try:
        plan = schedule.site_plan(
            session,
            found,
            start,
            start + timedelta(days=7),
            SchedulePolicy(timezone=settings.timezone),
        )
    except DomainError:
        plan = []  # unreadable hours: the opening-hours box already shows them as they are
    return {
        "site": found,
        "plan": plan,  # the page shows each moment in the city's time zone
        "closures": places.list_closures(session, found, upcoming_from=start.date()),
        "may_close": access.can(me, Action.MANAGE_PLACES) and access.covers_site(me, found),
        "closure_form": refused.form if refused else ClosureForm(formdata=None),
        "closure_error": refused.message if refused else None,
    }


@places_web.post("/sites/<int:site_id>/closures")
@login_required
def add_closure(site_id: int) -> Page | Response:
    session = db_session()
    me = signed_in()
    found = places.get_site(session, me, site_id)
    form = ClosureForm()
    outcome = save_form(
        "schedule",
        form,
        lambda: places.add_closure(
            session, me, found, form.starts_on.data, form.ends_on.data, form.reason.data or ""
        ),
        invalid=_("Give both days as dates."),
    )
    if isinstance(outcome, Refused):
        return show_refusal("site", found, outcome)
    flash(
        _(
            "%(site)s is closed from %(first)s to %(last)s: no wake-up those days.",
            site=found.name,
            first=format_date(form.starts_on.data, "d MMM y"),
            last=format_date(form.ends_on.data, "d MMM y"),
        ),
        "success",
    )
    return redirect(url_for("places.site", site_id=found.id) + "#schedule")


def site_names(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """Sites by name and page, for the audit log."""
    numbers = [int(i) for i in ids if i.isdigit()]
    found = session.execute(select(Site.id, Site.name).where(Site.id.in_(numbers)))
    return {
        str(site_id): (name, url_for("places.site", site_id=site_id)) for site_id, name in found
    }
