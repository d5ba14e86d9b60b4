"""The lockers on the staff pages: a kiosk's lockers (state, door, since when — never a code) with
the form that opens one from here, and the lockers free at each kiosk of a site."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, url_for
from flask_babel import format_datetime
from flask_login import login_required

from agent.protocol import DoorState, LockerState
from controller.accounts.current import signed_in
from controller.commands.delivery import send_now
from controller.context import db_session
from controller.db import utcnow
from controller.fleet import service as fleet
from controller.fleet.models import Device
from controller.i18n import _, _l
from controller.lockers import service as lockers
from controller.lockers.forms import OpenLockerForm
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
