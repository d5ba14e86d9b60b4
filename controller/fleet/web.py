"""The fleet's pages: every device at a glance, a device's page (its header, then every domain's
panels), and enrolment tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import SelectChoice

from agent.protocol import DeviceKind
from controller.accounts.current import signed_in
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.errors import DomainError, NotFound
from controller.fleet import enrolment
from controller.fleet import service as fleet
from controller.fleet.forms import KIND_LABELS, RevokeTokenForm, RotateSecretForm, TokenForm
from controller.fleet.models import Device, DeviceStatus
from controller.i18n import _, _l
from controller.places import service as places
from controller.places.models import Site
from controller.web.pages import Page
from controller.web.panels import Refused, render_panels, row_extras

fleet_web = Blueprint("fleet", __name__, template_folder="templates")

KIND_ICONS = {
    DeviceKind.PC: "monitor",
    DeviceKind.KIOSK: "battery-charging",
    DeviceKind.HOTSPOT: "wifi",
}
# Status is told by a word and a pictogram, never by colour alone (WCAG 1.4.1).
STATUS = {
    DeviceStatus.ONLINE: (_l("Online"), "circle-check"),
    DeviceStatus.OFFLINE: (_l("Offline"), "circle-x"),
    DeviceStatus.NEW: (_l("New"), "circle-dashed"),
}


@fleet_web.app_context_processor
def device_words() -> dict[str, Any]:
    return {
        "STATUS": STATUS,
        "KIND_LABELS": KIND_LABELS,
        "KIND_ICONS": KIND_ICONS,
        "live_words": live_words,
    }


def live_words() -> dict[str, Any]:
    """The words app.js writes into live pages (a status that changed, the connection, a
    relative time), in the reader's language; its English ones are the fallback."""
    return {
        "status": {status: str(label) for status, (label, _pictogram) in STATUS.items()},
        "device_now": _("%(device)s is now %(status)s."),
        "a_device": _("A device"),
        "never": _("never"),
        "just_now": _("just now"),
        "ago": _("%(span)s ago"),
        "day": _("day"),  # "1 day ago"; h, min and s are the same in every language here
        "days": _("days"),
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "not_connected": _("Not connected, retrying…"),
        "live_unavailable": _("Live updates unavailable"),
        "copied": _("Copied"),
    }


@fleet_web.get("/")
@login_required
def index() -> Page:
    session = db_session()
    me = signed_in()
    site_id = request.args.get("site", type=int)
    selected = places.get_site(session, me, site_id) if site_id is not None else None
    overview = fleet.fleet_overview(session, me)
    devices = fleet.list_devices(session, me, site_id=site_id)
    return render_template(
        "fleet/fleet.html",
        overview=overview,
        devices=devices,
        selected=selected,
        all_sites=[summary.site for org in overview for summary in org.sites],
        totals=_totals(summary.counts for org in overview for summary in org.sites),
    )


def _totals(counts: Any) -> dict[DeviceStatus, int]:
    totals = dict.fromkeys(DeviceStatus, 0)
    for by_status in counts:
        for status, n in by_status.items():
            totals[status] += n
    return totals


@fleet_web.get("/devices/<device_id>")
@login_required
def device(device_id: str) -> Page:
    return render_device_page(fleet.get_device(db_session(), signed_in(), device_id))


def render_device_page(found: Device, refused: Refused | None = None) -> str:
    """The device's page; ``refused``: a panel's form shown again with why it was refused."""
    return render_template(
        "fleet/device.html", device=found, panels=render_panels("device", found, refused)
    )


def status_panel(found: Device, refused: Refused | None) -> dict[str, Any]:
    return {
        "device": found,
        "metrics": found.metrics or {},
        "offline_after_s": found.heartbeat_interval_s
        * settings_of(current_app).offline_after_missed,
    }


def details_panel(found: Device, refused: Refused | None) -> dict[str, Any]:
    return {"device": found, "metrics": found.metrics or {}, "inventory": found.inventory or {}}


def secret_panel(found: Device, refused: Refused | None) -> dict[str, Any] | None:
    """The device's secret, for staff who may change it: a rotation waiting, or the form."""
    if not enrolment.may_rotate_secret(signed_in(), found):
        return None
    return {"device": found, "form": RotateSecretForm(formdata=None)}


@fleet_web.post("/devices/<device_id>/secret-rotation")
@login_required
def rotate_secret(device_id: str) -> Response:
    """Ask the device for a new secret; the domain checks who may."""
    form = RotateSecretForm()
    if not form.validate_on_submit():
        raise DomainError(_("this form was too old; reload the page and try again"))
    session = db_session()
    found = session.get(Device, device_id)
    if found is None:
        raise NotFound(_("no device %(id)s", id=device_id))
    enrolment.request_secret_rotation(session, signed_in(), found)
    session.commit()
    flash(
        _(
            "%(device)s will get a new secret at its next heartbeat; its current one works "
            "until it uses the new one.",
            device=found.name,
        ),
        "success",
    )
    return redirect(url_for("fleet.device", device_id=found.id, _anchor="secret"))


def site_devices_panel(found: Site, refused: Refused | None) -> dict[str, Any]:
    devices = fleet.list_devices(db_session(), signed_in(), site_id=found.id)
    return {
        "site": found,
        "devices": devices,
        "extras": row_extras("site_devices", found, devices),
    }


@fleet_web.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Page:
    session = db_session()
    me = signed_in()
    recent = enrolment.recent_tokens(session, me)  # refuses roles that may not enrol
    form = TokenForm()
    form.site.choices = [
        SelectChoice(s.id, s.name, optgroup=s.organisation.name)
        for s in enrolment.enrolment_sites(session, me)
    ]
    if request.method == "GET":
        hours = settings_of(current_app).enrolment_token_ttl_hours
        form.validity_hours.data = int(hours) if float(hours).is_integer() else hours
    error = None
    if form.validate_on_submit():
        try:
            issued = enrolment.create_token(
                session,
                me,
                places.find_site(session, form.site.data),
                ttl=timedelta(hours=float(form.validity_hours.data or 0)),
                kind=DeviceKind(form.kind.data) if form.kind.data else None,
                note=form.note.data or "",
            )
        except DomainError as exc:
            session.rollback()
            error = exc.message
        else:
            session.commit()
            return _token_created(issued)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "fleet/tokens.html",
        form=form,
        tokens=recent,
        error=error,
        now=utcnow(),
        revoke_form=RevokeTokenForm(formdata=None),
    ), status


@fleet_web.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Page:
    """Withdraw an unused token; the domain checks who may, and that nobody used it."""
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        raise DomainError(_("this form was too old; reload the page and try again"))
    session = db_session()
    record = enrolment.revoke_token(session, signed_in(), token_id)
    session.commit()
    flash(
        _("The token for %(site)s is revoked: it enrols nothing now.", site=record.site.name),
        "success",
    )
    return redirect(url_for("fleet.tokens"))


def _token_created(issued: enrolment.IssuedToken) -> Response:
    """The token, shown once; the page must not stay in a cache or the browser's history."""
    public_url = settings_of(current_app).public_url or request.url_root
    command = enrol_command(public_url, issued.token, issued.record.kind)
    page = render_template("fleet/token_created.html", issued=issued, command=command)
    response = Response(page, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


def enrol_command(controller_url: str, token: str, kind: str | None) -> str:
    """The exact command to run on the device being enrolled."""
    command = f"borne agent enrol --controller {controller_url.rstrip('/')} --token {token}"
    # The agent says it is a PC unless told otherwise: a token for another kind needs --kind.
    if kind is not None and kind != DeviceKind.PC:
        command += f" --kind {kind}"
    return command


def device_names(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """Devices by name and page, for the audit log."""
    found = session.execute(select(Device.id, Device.name).where(Device.id.in_(ids)))
    return {
        device_id: (name, url_for("fleet.device", device_id=device_id)) for device_id, name in found
    }
