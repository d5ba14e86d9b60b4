"""The staff pages: sign-in, the fleet, sites, devices, enrolment tokens, users, the audit log.

Views parse input, call the domain (which checks roles and scopes itself) and render. Domain
errors raised by a form's action are shown beside the form, and nothing is stored.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from wtforms import SelectChoice

from controller import access, enrolment, fleet, places, staff, users
from controller.choices import Action, DeviceKind, DeviceStatus
from controller.context import db_session, settings_of
from controller.errors import DomainError
from controller.models import User, utcnow
from controller.web import web
from controller.web.forms import KIND_LABELS, LoginForm, LogoutForm, TokenForm, UserForm

Page = str | tuple[str, int] | Response

KIND_ICONS = {
    DeviceKind.PC: "monitor",
    DeviceKind.KIOSK: "battery-charging",
    DeviceKind.HOTSPOT: "wifi",
}
# Status is told by a word and a pictogram, never by colour alone (WCAG 1.4.1).
STATUS = {
    DeviceStatus.ONLINE: ("Online", "circle-check"),
    DeviceStatus.OFFLINE: ("Offline", "circle-x"),
    DeviceStatus.NEW: ("New", "circle-dashed"),
}
FAILED_LOGIN = "Unknown username or wrong password."
NAVIGATION = [  # (endpoint, label, pictogram, action the role needs)
    ("web.index", "Fleet", "layout-dashboard", Action.VIEW_FLEET),
    ("web.tokens", "Enrolment", "key-round", Action.ENROL_DEVICE),
    ("web.user_list", "Users", "users", Action.MANAGE_USERS),
    ("web.audit_log", "Audit log", "scroll-text", Action.VIEW_AUDIT),
]


def _me() -> User:
    """The signed-in user as the domain knows it (not Flask-Login's proxy)."""
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site; open redirects to other hosts are refused."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:  # some browsers read /\host as //host
        return None
    return target


# --- what every page needs ----------------------------------------------------------------------


@web.app_context_processor
def layout_context() -> dict[str, Any]:
    navigation = []
    user = None
    try:
        if current_user.is_authenticated:
            user = _me()
            navigation = [item for item in NAVIGATION if access.can(user, item[3])]
    except SQLAlchemyError:  # an error page must render even when the database is down
        user = None
    return {
        "me": user,
        "navigation": navigation,
        "logout_form": LogoutForm() if user else None,
        "STATUS": STATUS,
        "KIND_LABELS": KIND_LABELS,
        "KIND_ICONS": KIND_ICONS,
    }


@web.app_template_filter("ago")
def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """A past moment in plain words: "just now", "4 min ago", "3 days ago"."""
    if moment is None:
        return "never"
    seconds = ((now or utcnow()) - moment).total_seconds()
    if seconds < 0:
        return "in " + _span(-seconds)
    if seconds < 10:
        return "just now"
    return _span(seconds) + " ago"


def _span(seconds: float) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''}"
    return f"{int(seconds)} s"


@web.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    return "—" if seconds is None else _span(float(seconds))


@web.app_template_filter("size")
def size(count: float | None) -> str:
    """Bytes in binary units, as an operating system shows them."""
    if count is None:
        return "—"
    if count < 1024:
        return f"{int(count)} B"
    exponent = min(int(math.log(count, 1024)), 5)
    return f"{count / 1024**exponent:.1f} {'BKMGTP'[exponent]}iB"


@web.app_template_filter("percent")
def percent(value: float | None) -> str:
    # Half up, as the page's script rounds live values (Python's format rounds half to even).
    return "—" if value is None else f"{math.floor(value + 0.5)} %"


@web.app_template_filter("utc")
def utc(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


@web.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> tuple[str, int]:
    message = (
        "This form was too old or did not come from this site, so nothing was changed. "
        "Go back, reload the page and try again."
    )
    return render_template("error.html", status=400, message=message), 400


# --- signing in and out -------------------------------------------------------------------------


@web.route("/login", methods=["GET", "POST"])
def login() -> Page:
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("web.index"))
        form.next.data = safe_next(request.args.get("next")) or ""
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("login.html", form=form), status
    session = db_session()
    user = users.authenticate(session, form.username.data or "", form.password.data or "")
    if user is None:
        # One message whether the user exists or not: a sign-in form must not reveal accounts.
        return render_template("login.html", form=form, error=FAILED_LOGIN), 401
    staff.record_login(session, user)
    session.commit()
    flask_session.clear()  # a new session at sign-in: nothing planted before it survives
    login_user(user)
    return redirect(safe_next(form.next.data) or url_for("web.index"))


@web.post("/logout")
@login_required
def logout() -> Response:
    form = LogoutForm()
    if form.validate_on_submit():  # CSRFProtect has already refused a missing token
        session = db_session()
        staff.record_logout(session, _me())
        session.commit()
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("web.login"))


# --- the fleet ----------------------------------------------------------------------------------


@web.get("/")
@login_required
def index() -> Page:
    session = db_session()
    me = _me()
    site_id = request.args.get("site", type=int)
    selected = fleet.get_site(session, me, site_id) if site_id is not None else None
    overview = staff.fleet_overview(session, me)
    devices = fleet.list_devices(session, me, site_id=site_id)
    return render_template(
        "fleet.html",
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


@web.get("/sites/<int:site_id>")
@login_required
def site(site_id: int) -> Page:
    session = db_session()
    me = _me()
    found = fleet.get_site(session, me, site_id)
    devices = fleet.list_devices(session, me, site_id=found.id)
    counts = _totals([{DeviceStatus(d.status): 1} for d in devices])
    return render_template("site.html", site=found, devices=devices, counts=counts)


@web.get("/devices/<device_id>")
@login_required
def device(device_id: str) -> Page:
    found = fleet.get_device(db_session(), _me(), device_id)
    return render_template(
        "device.html",
        device=found,
        metrics=found.metrics or {},
        inventory=found.inventory or {},
        offline_after_s=found.heartbeat_interval_s * settings_of(current_app).offline_after_missed,
    )


# --- enrolment tokens ---------------------------------------------------------------------------


@web.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Page:
    session = db_session()
    me = _me()
    recent = staff.recent_tokens(session, me)  # refuses roles that may not enrol
    form = TokenForm()
    form.site.choices = [
        SelectChoice(s.id, s.name, optgroup=s.organisation.name)
        for s in staff.enrolment_sites(session, me)
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
        "tokens.html", form=form, tokens=recent, error=error, now=utcnow()
    ), status


def _token_created(issued: enrolment.IssuedToken) -> Response:
    """The token, shown once; the page must not stay in a cache or the browser's history."""
    command = enrol_command(request.url_root, issued.token, issued.record.kind)
    page = render_template("token_created.html", issued=issued, command=command)
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


# --- users --------------------------------------------------------------------------------------


@web.route("/users", methods=["GET", "POST"])
@login_required
def user_list() -> Page:
    session = db_session()
    me = _me()
    accounts = staff.list_users(session, me)  # refuses anyone who may not manage users
    organisations, sites = staff.scope_choices(session, me)
    form = UserForm()
    form.organisations.choices = [SelectChoice(o.id, o.name) for o in organisations]
    form.sites.choices = [SelectChoice(s.id, f"{s.name} ({s.organisation.name})") for s in sites]
    error = None
    if form.validate_on_submit():
        try:
            created = users.create_user(
                session,
                me,
                username=form.username.data or "",
                password=form.password.data or "",
                role=form.role.data or "",
                full_name=form.full_name.data or "",
                organisations=form.organisations.data or [],
                sites=form.sites.data or [],
            )
        except DomainError as exc:
            session.rollback()
            error = exc.message
        else:
            session.commit()
            flash(f"User {created.username} added as {created.role}.", "success")
            return redirect(url_for("web.user_list"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "users.html",
        form=form,
        accounts=accounts,
        scopes=staff.scope_names(session, accounts),
        error=error,
    ), status


# --- audit log ----------------------------------------------------------------------------------


@web.get("/audit")
@login_required
def audit_log() -> Page:
    page = staff.audit_page(db_session(), _me(), page=request.args.get("page", 1, type=int))
    return render_template("audit.html", page=page)
