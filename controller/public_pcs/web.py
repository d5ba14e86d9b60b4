"""The public PCs on the staff pages: a PC's privacy wipes and sessions, and the session limits
of a site's PCs with the form that sets them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, url_for
from flask_babel import format_datetime
from flask_login import login_required

from agent.protocol import CommandName, DeviceKind, SessionEnd
from controller import access
from controller.access import Action
from controller.accounts.current import signed_in
from controller.commands.delivery import send_now
from controller.commands.forms import CommandForm
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.fleet.models import Device
from controller.hotspots import service as hotspots
from controller.i18n import _, _l, ngettext
from controller.places import service as places
from controller.places.models import Site
from controller.public_pcs import service as pc_usage
from controller.public_pcs.forms import SessionLimitsForm
from controller.web.pages import Page
from controller.web.panels import Refused, save_form, show_refusal

public_pcs_web = Blueprint("public_pcs", __name__, template_folder="templates")

SESSION_ENDS = {
    SessionEnd.LOGOUT: _l("logged out"),
    SessionEnd.IDLE: _l("left idle"),
    SessionEnd.MAX_DURATION: _l("reached the longest session"),
    SessionEnd.COMMAND: _l("reset by a mediator"),
    SessionEnd.LOCAL: _l("reset at the PC"),
}


def wipes_panel(found: Device, refused: Refused | None) -> dict[str, Any] | None:
    """A public PC's latest wipes and how its sessions ended (nothing for other kinds)."""
    if found.kind != DeviceKind.PC:
        return None
    session = db_session()
    me = signed_in()
    return {
        "device": found,
        "wipes": pc_usage.recent_wipes(session, me, found),
        "sessions": pc_usage.recent_sessions(session, me, found),
        "SESSION_ENDS": SESSION_ENDS,
        "wipe_words": live_wipe_words(),
    }


def live_wipe_words() -> dict[str, Any]:
    """The words app.js writes in the reader's language when a wipe report arrives live
    (its ``data-page-words``): ``%(count)s`` and the others are the script's to fill; a count
    comes in its "one" and "other" forms, which the script picks with ``Intl.PluralRules``.
    Each message is written out in full, so that the extraction of messages finds it."""
    count = "%(count)s"  # kept as it is: the script puts the number in
    return {
        "wipe_files": {
            "one": ngettext("%(count)s file", "%(count)s files", 1, count=count),
            "other": ngettext("%(count)s file", "%(count)s files", 2, count=count),
        },
        "wipe_clean": _("Nothing left"),
        "wipe_left": {
            "one": ngettext("%(count)s left", "%(count)s left", 1, count=count),
            "other": ngettext("%(count)s left", "%(count)s left", 2, count=count),
        },
        "wipe_left_locked": {
            "one": ngettext(
                "%(count)s left, login locked", "%(count)s left, login locked", 1, count=count
            ),
            "other": ngettext(
                "%(count)s left, login locked", "%(count)s left, login locked", 2, count=count
            ),
        },
        "wipe_finished": _(
            "Wipe finished: %(result)s, ready in %(ready)s.", result="%(result)s", ready="%(ready)s"
        ),
    }


def desk_panel(found: Site, refused: Refused | None) -> dict[str, Any] | None:
    """The top of a site's page, for the mediator at the desk: the wifi's code of the day, and
    each public PC free or in use (since when, time left) with its buttons within reach."""
    session = db_session()
    me = signed_in()
    now = utcnow()
    pcs = pc_usage.pcs_at_desk(session, me, found)
    codes = hotspots.codes_of_the_day(
        session, me, found, timezone=settings_of(current_app).timezone, now=now
    )
    if not pcs and not codes:
        return None
    hotspot_names = {d.id: d.name for d in found.devices}
    may = {name: access.may_command(me, name, found) for name in DESK_COMMANDS}
    return {
        "site": found,
        "pcs": pcs,
        "now": now,
        "day_codes": [(hotspot_names.get(i, i), code) for i, code in sorted(codes.items())],
        "may": may,
        "csrf": CommandForm(formdata=None).csrf_token(id=False) if any(may.values()) else "",
        "wipe_words": live_wipe_words(),
        "clock_time": lambda moment: format_datetime(moment, "HH:mm"),  # the city's time
    }


# The buttons beside each PC, in the order a mediator reaches for them.
DESK_COMMANDS = (
    CommandName.EXTEND_SESSION,
    CommandName.RESET_SESSION,
    CommandName.LOCK_SCREEN,
    CommandName.UNLOCK_SCREEN,
    CommandName.SHOW_MESSAGE,
)


def limits_panel(found: Site, refused: Refused | None) -> dict[str, Any]:
    """How long residents' sessions last at the site, and the form for those who may set it."""
    me = signed_in()
    return {
        "site": found,
        "may_close": access.can(me, Action.MANAGE_PLACES) and access.covers_site(me, found),
        "limits_form": refused.form
        if refused
        else SessionLimitsForm(
            formdata=None,
            idle_timeout_min=found.idle_timeout_min,
            max_session_min=found.max_session_min,
        ),
        "limits_error": refused.message if refused else None,
    }


@public_pcs_web.post("/sites/<int:site_id>/session-limits")
@login_required
def set_session_limits(site_id: int) -> Page | Response:
    session = db_session()
    me = signed_in()
    found = places.get_site(session, me, site_id)
    form = SessionLimitsForm()
    outcome = save_form(
        "sessions",
        form,
        lambda: pc_usage.set_session_limits(
            session,
            me,
            found,
            idle_timeout_min=form.idle_timeout_min.data or 0,
            max_session_min=form.max_session_min.data or None,
            time_zone=settings_of(current_app).timezone,
        ),
    )
    if isinstance(outcome, Refused):
        return show_refusal("site", found, outcome)
    send_now(outcome)
    flash(
        ngettext(
            "Session limits saved and sent to %(num)d PC of %(site)s.",
            "Session limits saved and sent to %(num)d PCs of %(site)s.",
            len(outcome),
            site=found.name,
        ),
        "success",
    )
    return redirect(url_for("places.site", site_id=found.id) + "#sessions")
