"""Wifi hotspots on the staff pages: a hotspot's portal (the code of the day, its settings and
their form, its use), and each hotspot's code of the day in a site's list of devices."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, url_for
from flask_login import login_required

from agent.protocol import DeviceKind
from controller import access
from controller.access import Action
from controller.accounts.current import signed_in
from controller.commands.delivery import send_now
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.fleet import service as fleet
from controller.fleet.models import Device
from controller.hotspots import address_plan
from controller.hotspots import service as hotspot_portal
from controller.hotspots import usage as portal_usage
from controller.hotspots.forms import PORTAL_MODES, PortalForm
from controller.i18n import _
from controller.places.models import Site
from controller.web.pages import Page
from controller.web.panels import Refused, RowExtras, row_macro, save_form, show_refusal

hotspots_web = Blueprint("hotspots", __name__, template_folder="templates")


def portal_panel(found: Device, refused: Refused | None) -> dict[str, Any] | None:
    """A hotspot's captive portal as set from here, the form to set it, and its use."""
    if found.kind != DeviceKind.HOTSPOT:
        return None
    me = signed_in()
    session = db_session()
    portal = hotspot_portal.view_portal(
        session, me, found, timezone=settings_of(current_app).timezone, now=utcnow()
    )
    return {
        "device": found,
        "portal": portal,
        "PORTAL_MODES": PORTAL_MODES,
        "may_set_portal": access.can(me, Action.MANAGE_PLACES)
        and access.covers_site(me, found.site),
        "portal_form": refused.form
        if refused
        else PortalForm(
            formdata=None,
            mode=portal.mode.value,
            follow_site_hours=portal.follow_site_hours,
            session_min=portal.session_min,
        ),
        "portal_error": refused.message if refused else None,
        "portal_day": portal_usage.latest_day(session, me, found),
        "client_network": address_plan.subnet_of(session, found),
    }


def day_codes(found: Site, devices: list[Device]) -> RowExtras | None:
    """Today's code beside each hotspot in code mode, for the mediator at the desk."""
    codes = hotspot_portal.codes_of_the_day(
        db_session(), signed_in(), found, timezone=settings_of(current_app).timezone, now=utcnow()
    )
    if not codes:
        return None
    note = row_macro("hotspots/_rows.html", "day_code_note")
    return RowExtras(notes={device_id: [note(code)] for device_id, code in codes.items()})


@hotspots_web.post("/devices/<device_id>/portal")
@login_required
def set_portal(device_id: str) -> Page | Response:
    session = db_session()
    me = signed_in()
    found = fleet.get_device(session, me, device_id)
    form = PortalForm()
    outcome = save_form(
        "portal",
        form,
        lambda: hotspot_portal.set_portal(
            session,
            me,
            found,
            mode=form.mode.data or "",
            follow_site_hours=form.follow_site_hours.data,
            session_min=form.session_min.data or 0,
            timezone=settings_of(current_app).timezone,
        ),
    )
    if isinstance(outcome, Refused):
        return show_refusal("device", found, outcome)
    send_now(outcome)
    flash(_("Wifi portal settings saved and sent to %(device)s.", device=found.name), "success")
    return redirect(url_for("fleet.device", device_id=found.id, _anchor="portal"))
