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
    g,
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
from controller.fleet.condition import (
    CONCERN_WORDS,
    Concern,
    DeviceCondition,
    concern_finders,
    device_conditions,
)
from controller.fleet.forms import (
    KIND_LABELS,
    DeviceFilterForm,
    MoveDeviceForm,
    RenameDeviceForm,
    RetireDeviceForm,
    RevokeTokenForm,
    RotateSecretForm,
    TokenForm,
)
from controller.fleet.models import Device, DeviceStatus
from controller.fleet.qr import qr_data_uri
from controller.i18n import _, _l
from controller.places import service as places
from controller.places.models import Site
from controller.web.pages import Page
from controller.web.panels import Refused, render_panels, row_extras, save_form, show_refusal

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
        "CONCERN_WORDS": CONCERN_WORDS,
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
    overview = fleet.fleet_overview(session, me)
    all_sites = [summary.site for org in overview for summary in org.sites]
    form = filter_form(all_sites)
    wanted = _wanted(form)
    selected = places.get_site(session, me, wanted.site_id) if wanted.site_id else None
    finders = concern_finders(current_app)
    # Every device once, whatever the filters: the "need attention" total counts them all.
    every = fleet.find_devices(session, me, fleet.DeviceFilter(retired=wanted.retired), finders)
    shown = fleet.filter_devices(every, wanted)
    return render_template(
        "fleet/fleet.html",
        overview=overview,
        devices=shown.devices,
        conditions=shown.conditions,
        form=form,
        filtered=wanted != fleet.DeviceFilter(sort=wanted.sort),
        selected=selected,
        totals=_totals(summary.counts for org in overview for summary in org.sites),
        attention=sum(1 for c in every.conditions.values() if c.concerns),
    )


def _totals(counts: Any) -> dict[DeviceStatus, int]:
    totals = dict.fromkeys(DeviceStatus, 0)
    for by_status in counts:
        for status, n in by_status.items():
            totals[status] += n
    return totals


STATUS_CHOICES: dict[str, tuple[Any, str]] = {**STATUS, "retired": (_l("Retired"), "power")}
SORTS = {
    fleet.DeviceSort.NAME: _l("Name"),
    fleet.DeviceSort.SITE: _l("Site"),
    fleet.DeviceSort.KIND: _l("Kind"),
    fleet.DeviceSort.LAST_SEEN: _l("Last seen"),
    fleet.DeviceSort.STATUS: _l("Status, what needs looking at first"),
}
ANY_CONCERN = "any"


def filter_form(sites: list[Site]) -> DeviceFilterForm:
    """The fleet page's filters, read from the address (a GET form, no script needed)."""
    form = DeviceFilterForm(request.args)
    form.site.choices = [SelectChoice("", _("All sites"))] + [
        SelectChoice(str(s.id), s.name) for s in sites
    ]
    form.kind.choices = [SelectChoice("", _("All kinds"))] + [
        SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()
    ]
    form.status.choices = [SelectChoice("", _("In service, any status"))] + [
        SelectChoice(str(status), label) for status, (label, _icon) in STATUS_CHOICES.items()
    ]
    form.concern.choices = [
        SelectChoice("", _("All devices")),
        SelectChoice(ANY_CONCERN, _("Needing attention")),
    ] + [SelectChoice(c.value, label) for c, (label, _icon) in CONCERN_WORDS.items()]
    form.sort.choices = [SelectChoice(sort.value, label) for sort, label in SORTS.items()]
    return form


def _wanted(form: DeviceFilterForm) -> fleet.DeviceFilter:
    """What the form asks for; a value it does not offer (an old or edited link) is ignored."""
    form.validate()

    def given(field: Any) -> str:
        return "" if field.errors or field.data is None else str(field.data)

    status, concern = given(form.status), given(form.concern)
    site = str(form.site.data or "")  # a site outside the list: get_site says why not
    return fleet.DeviceFilter(
        search=given(form.q),
        site_id=int(site) if site.isdigit() else None,
        kind=DeviceKind(given(form.kind)) if given(form.kind) else None,
        status=DeviceStatus(status) if status in set(DeviceStatus) else None,
        retired=status == "retired",
        concern=Concern(concern) if concern in set(Concern) else None,
        any_concern=concern == ANY_CONCERN,
        sort=fleet.DeviceSort(given(form.sort) or fleet.DeviceSort.NAME),
    )


@fleet_web.get("/devices/<device_id>")
@login_required
def device(device_id: str) -> Page:
    return render_device_page(fleet.get_device(db_session(), signed_in(), device_id))


def render_device_page(found: Device, refused: Refused | None = None) -> str:
    """The device's page; ``refused``: a panel's form shown again with why it was refused."""
    return render_template(
        "fleet/device.html",
        device=found,
        condition=condition_of(found),
        panels=render_panels("device", found, refused),
    )


def condition_of(found: Device) -> DeviceCondition:
    """One device's condition, every domain's concerns included (once per request)."""
    cache: dict[str, DeviceCondition] = g.setdefault("device_conditions", {})
    if found.id not in cache:
        cache.update(device_conditions(db_session(), [found], concern_finders(current_app)))
    return cache[found.id]


def status_panel(found: Device, refused: Refused | None) -> dict[str, Any]:
    return {
        "device": found,
        "condition": condition_of(found),
        "metrics": found.metrics or {},
        "offline_after_s": found.heartbeat_interval_s
        * settings_of(current_app).offline_after_missed,
    }


def details_panel(found: Device, refused: Refused | None) -> dict[str, Any]:
    """Metrics and inventory; its technical details (MAC addresses, kernel, disk devices) only
    for the technicians and admins of the device's site."""
    return {
        "device": found,
        "metrics": found.metrics or {},
        "inventory": found.inventory or {},
        "technical": fleet.may_manage(signed_in(), found),
    }


def manage_panel(found: Device, refused: Refused | None) -> dict[str, Any] | None:
    """Rename, move, retire: for the technicians and admins of the device's site."""
    me = signed_in()
    if not fleet.may_manage(me, found):
        return None
    mine = refused.form if refused is not None else None
    rename = mine if isinstance(mine, RenameDeviceForm) else RenameDeviceForm(formdata=None)
    if rename.name.data is None:
        rename.name.data = found.name
    move = mine if isinstance(mine, MoveDeviceForm) else MoveDeviceForm(formdata=None)
    _site_choices(move, me, found)
    return {
        "device": found,
        "rename_form": rename,
        "move_form": move,
        "retire_form": RetireDeviceForm(formdata=None),
        "refused": refused,
    }


def _site_choices(form: MoveDeviceForm, me: Any, found: Device) -> None:
    """The sites the device may move to: those where ``me`` may enrol, by organisation."""
    form.site.choices = [
        SelectChoice(s.id, s.name, optgroup=s.organisation.name)
        for s in enrolment.enrolment_sites(db_session(), me)
    ]
    if form.site.data is None:
        form.site.data = found.site_id


@fleet_web.post("/devices/<device_id>/name")
@login_required
def rename(device_id: str) -> Page | Response:
    session = db_session()
    me = signed_in()
    found = fleet.get_device(session, me, device_id)
    before = found.name
    form = RenameDeviceForm()
    outcome = save_form(
        "manage", form, lambda: fleet.rename_device(session, me, found, form.name.data or "")
    )
    if isinstance(outcome, Refused):
        return show_refusal("device", found, outcome)
    flash(_("%(before)s is now called %(name)s.", before=before, name=found.name), "success")
    return redirect(url_for("fleet.device", device_id=found.id))


@fleet_web.post("/devices/<device_id>/site")
@login_required
def move(device_id: str) -> Page | Response:
    session = db_session()
    me = signed_in()
    found = fleet.get_device(session, me, device_id)
    form = MoveDeviceForm()
    _site_choices(form, me, found)
    outcome = save_form(
        "manage",
        form,
        lambda: fleet.move_device(session, me, found, places.find_site(session, form.site.data)),
        invalid=_("Choose one of the sites in the list."),
    )
    if isinstance(outcome, Refused):
        return show_refusal("device", found, outcome)
    flash(_("%(device)s is now at %(site)s.", device=found.name, site=found.site.name), "success")
    return redirect(url_for("fleet.device", device_id=found.id))


@fleet_web.post("/devices/<device_id>/retire")
@login_required
def retire(device_id: str) -> Page | Response:
    session = db_session()
    me = signed_in()
    found = fleet.get_device(session, me, device_id)
    outcome = save_form(
        "manage",
        RetireDeviceForm(),
        lambda: enrolment.retire_device(session, me, found),
        invalid=_("this form was too old; reload the page and try again"),
    )
    if isinstance(outcome, Refused):
        return show_refusal("device", found, outcome)
    flash(
        _(
            "%(device)s is retired: its agent is refused from now on; its history is kept.",
            device=found.name,
        ),
        "success",
    )
    return redirect(url_for("fleet.device", device_id=found.id))


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
    listed = fleet.find_devices(
        db_session(),
        signed_in(),
        fleet.DeviceFilter(site_id=found.id, sort=fleet.DeviceSort.KIND),
        concern_finders(current_app),
    )
    return {
        "site": found,
        "devices": listed.devices,
        "conditions": listed.conditions,
        "extras": row_extras("site_devices", found, listed.devices),
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
    page = render_template(
        "fleet/token_created.html",
        issued=issued,
        command=command,
        command_qr=qr_data_uri(command),
        public_url=public_url.rstrip("/"),
    )
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
