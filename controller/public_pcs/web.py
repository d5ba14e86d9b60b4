"""The public PCs on the staff pages: a PC's privacy wipes and sessions, and the session limits
of a site's PCs with the form that sets them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, url_for
from flask_login import login_required

from agent.protocol import DeviceKind, SessionEnd
from controller import access
from controller.access import Action
from controller.accounts.current import signed_in
from controller.commands.delivery import send_now
from controller.context import db_session
from controller.fleet.models import Device
from controller.places import service as places
from controller.places.models import Site
from controller.public_pcs import service as pc_usage
from controller.public_pcs.forms import SessionLimitsForm
from controller.web.pages import Page
from controller.web.panels import Refused, save_form, show_refusal

public_pcs_web = Blueprint("public_pcs", __name__, template_folder="templates")

SESSION_ENDS = {
    SessionEnd.LOGOUT: "logged out",
    SessionEnd.IDLE: "left idle",
    SessionEnd.MAX_DURATION: "reached the longest session",
    SessionEnd.COMMAND: "reset by a mediator",
    SessionEnd.LOCAL: "reset at the PC",
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
    }


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
        ),
    )
    if isinstance(outcome, Refused):
        return show_refusal("site", found, outcome)
    send_now(outcome)
    flash(f"Session limits saved and sent to {len(outcome)} PC(s) of {found.name}.", "success")
    return redirect(url_for("places.site", site_id=found.id) + "#sessions")
