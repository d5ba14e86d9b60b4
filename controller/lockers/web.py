"""The lockers on the staff pages: a kiosk's lockers (state, door, since when — never a code) with
the form that opens one from here, the lockers free at each kiosk of a site, and the rules of a
site's kiosks with the form that sets them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, url_for
from flask_babel import format_datetime
from flask_login import login_required

from agent.protocol import DoorState, LockerState
from controller import access
from controller.access import Action
from controller.accounts.current import signed_in
from controller.commands.delivery import send_now
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.fleet import service as fleet
from controller.fleet.models import Device
from controller.i18n import _, _l, ngettext
from controller.lockers import service as lockers
from controller.lockers import settings as kiosk_settings
from controller.lockers.forms import KioskSettingsForm, OpenLockerForm
from controller.places import service as places
from controller.places.models import Site
from controller.web.pages import Page
from controller.web.panels import Refused, save_form, show_refusal

lockers_web = Blueprint("lockers", __name__, template_folder="templates")

# A locker's state in words and a pictogram: never told by colour alone (WCAG 1.4.1).
LOCKER_STATES = {
    LockerState.FREE: (_l("Free"), "circle-check"),
    LockerState.DEPOSIT: (_l("Open for a deposit"), "lock-open"),
    LockerState.OCCUPIED: (_l("Charging a phone"), "battery-charging"),
    LockerState.OVERTIME: (_l("Past its time: staff only"), "hourglass"),
    LockerState.OUT_OF_ORDER: (_l("Out of order"), "wrench"),
}
DOOR_STATES = {
    DoorState.CLOSED: _l("door shut"),
    DoorState.OPEN: _l("door open"),
    DoorState.UNKNOWN: _l("door unknown"),
}


def since_words(moment: datetime, now: datetime | None = None) -> str:
    """When a locker entered its state, in the city's time: the hour within a day, else the
    date too."""
    if (now or utcnow()) - moment < timedelta(hours=20):
        return _("since %(time)s", time=format_datetime(moment, "HH:mm"))
    return _("since %(time)s", time=format_datetime(moment, "d MMM HH:mm"))


def lockers_panel(found: Device, refused: Refused | None) -> dict[str, Any] | None:
    """A kiosk's lockers as it last reported them, and the form that opens one for those who
    may (nothing for a device without lockers)."""
    session = db_session()
    if not lockers.has_lockers(session, found):
        return None
    me = signed_in()
    return {
        "device": found,
        "kiosk": lockers.lockers_of(session, me, found),
        "may_open": lockers.may_open(me, found),
        "open_form": refused.form if refused else OpenLockerForm(formdata=None),
        "open_error": refused.message if refused else None,
        "LOCKER_STATES": LOCKER_STATES,
        "DOOR_STATES": DOOR_STATES,
        "since_words": since_words,
    }


def site_lockers_panel(found: Site, refused: Refused | None) -> dict[str, Any] | None:
    """The lockers free at each kiosk of the site, near the top of its page (nothing for a
    site without a kiosk)."""
    kiosks = lockers.site_lockers(db_session(), signed_in(), found)
    if not kiosks:
        return None
    return {"site": found, "kiosks": kiosks}


@lockers_web.post("/devices/<device_id>/lockers/open")
@login_required
def open_locker(device_id: str) -> Page | Response:
    """Open one locker of a kiosk from its page: the domain checks who, which and why."""
    session = db_session()
    me = signed_in()
    found = fleet.get_device(session, me, device_id)
    lockers.lockers_of(session, me, found)  # a device without lockers: 404, no page to show
    form = OpenLockerForm()
    outcome = save_form(
        "lockers",
        form,
        lambda: lockers.request_open(
            session, me, found, form.locker.data or 0, form.reason.data or ""
        ),
        invalid=_("Choose the locker to open in the list."),
    )
    if isinstance(outcome, Refused):
        return show_refusal("device", found, outcome)
    send_now([outcome])
    flash(
        _(
            "Opening of locker %(number)d sent to %(device)s. Follow it under Recent commands.",
            number=outcome.args["locker"],
            device=found.name,
        ),
        "success",
    )
    return redirect(url_for("fleet.device", device_id=found.id, _anchor="lockers"))


def kiosk_settings_panel(found: Site, refused: Refused | None) -> dict[str, Any] | None:
    """The rules of the site's charging kiosks, who opens their lockers with a PIN, and the form
    that sets the rules: for those who may manage the place (nothing for the others, but the
    reason their change was refused)."""
    me = signed_in()
    if not (access.can(me, Action.MANAGE_PLACES) and access.covers_site(me, found)):
        return {"site": found, "settings_error": refused.message} if refused else None
    session = db_session()
    rules = kiosk_settings.site_rules(session, me, found)
    return {
        "site": found,
        "kiosks": len(kiosk_settings.kiosks_at(session, [found.id])),
        "pin_holders": list(kiosk_settings.staff_pins(session, found)),
        "settings_form": refused.form
        if refused
        else KioskSettingsForm(
            formdata=None,
            max_charge_min=rules.max_charge_min,
            help_text=rules.help_text,
            forgotten_text=rules.forgotten_text,
        ),
        "settings_error": refused.message if refused else None,
    }


@lockers_web.post("/sites/<int:site_id>/kiosk-settings")
@login_required
def set_kiosk_settings(site_id: int) -> Page | Response:
    """Save the rules of a site's kiosks and send them: the domain checks who and what."""
    session = db_session()
    me = signed_in()
    found = places.get_site(session, me, site_id)
    form = KioskSettingsForm()
    outcome = save_form(
        "kiosk-settings",
        form,
        lambda: kiosk_settings.set_rules(
            session,
            me,
            found,
            max_charge_min=form.max_charge_min.data or 0,
            help_text=form.help_text.data or "",
            forgotten_text=form.forgotten_text.data or "",
            timezone=settings_of(current_app).timezone,
        ),
        invalid=_("Give the longest charge as a number of minutes, from 10 to 1,440."),
    )
    if isinstance(outcome, Refused):
        return show_refusal("site", found, outcome)
    send_now(outcome)
    if outcome:
        said = ngettext(
            "Rules of the charging kiosks saved and sent to the %(num)d kiosk of %(site)s.",
            "Rules of the charging kiosks saved and sent to the %(num)d kiosks of %(site)s.",
            len(outcome),
            site=found.name,
        )
    else:
        said = _(
            "Rules of the charging kiosks of %(site)s saved: a kiosk enrolled here starts with "
            "them.",
            site=found.name,
        )
    flash(said, "success")
    return redirect(url_for("places.site", site_id=found.id) + "#kiosk-settings")
