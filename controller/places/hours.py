"""A site's opening hours for people: a week in plain words on the site page, and their edit
page, where the OpenStreetMap syntax is written and previewed on the next seven days."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from controller import access
from controller.access import Action
from controller.accounts.current import signed_in
from controller.context import db_session, settings_of
from controller.errors import DomainError
from controller.i18n import _
from controller.places import service as places
from controller.places.forms import OpeningHoursForm
from controller.places.models import Site
from controller.places.opening_hours import DayHours, SchedulePolicy, opening_week
from controller.web.pages import Page

places_hours = Blueprint("places_hours", __name__, template_folder="templates")


def week_of(expression: str) -> list[DayHours]:
    """The next seven days of ``expression`` in the city's time zone, from today."""
    policy = SchedulePolicy(timezone=settings_of(current_app).timezone)
    return opening_week(expression, datetime.now(policy.zone).date(), policy)


def may_edit_hours(site: Site) -> bool:
    me = signed_in()
    return access.can(me, Action.MANAGE_PLACES) and access.covers_site(me, site)


@places_hours.route("/sites/<int:site_id>/hours", methods=["GET", "POST"])
@login_required
def edit_hours(site_id: int) -> Page:
    session = db_session()
    me = signed_in()
    site = places.get_site(session, me, site_id)
    access.require(me, Action.MANAGE_PLACES, site)
    form = OpeningHoursForm()
    if request.method == "GET":
        form.opening_hours.data = site.opening_hours
    preview: list[DayHours] | None = None
    error = None
    if form.validate_on_submit():
        typed = form.opening_hours.data or ""
        try:
            if form.preview.data:
                preview = week_of(typed)
            else:
                changed = places.set_opening_hours(session, me, site, typed)
                session.commit()
                flash(
                    _("Opening hours of %(site)s saved.", site=site.name)
                    if changed
                    else _("Nothing changed."),
                    "success" if changed else "info",
                )
                return redirect(url_for("places.site", site_id=site.id))
        except DomainError as exc:
            session.rollback()
            error = exc.message
    elif request.method == "POST":
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    status = 400 if error else 200
    return render_template(
        "places/hours.html",
        site=site,
        form=form,
        week=week_of(site.opening_hours or ""),
        preview=preview,
        error=error,
    ), status
