"""The staff pages: sign-in, the fleet, sites, devices and their commands, enrolment tokens, users,
the audit log and its CSV export.

Views parse input, call the domain (which checks roles and scopes itself) and render. Domain
errors raised by a form's action are shown beside the form, and nothing is stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from wtforms import SelectChoice

from controller import (
    access,
    alerts,
    audit_export,
    commands,
    enrolment,
    fleet,
    hotspot_portal,
    pc_usage,
    places,
    portal_usage,
    scheduler,
    staff,
    users,
)
from controller.choices import (
    Action,
    CommandName,
    CommandState,
    DeviceKind,
    DeviceStatus,
    SessionEnd,
)
from controller.context import database_of, db_session, settings_of
from controller.errors import DomainError
from controller.models import Command, Device, Site, User, utcnow
from controller.realtime import push_commands
from controller.schedules import SchedulePolicy
from controller.web import web
from controller.web.forms import (
    KIND_LABELS,
    PORTAL_MODES,
    AuditFilterForm,
    ClosureForm,
    CommandForm,
    LoginForm,
    LogoutForm,
    PortalForm,
    SessionLimitsForm,
    TokenForm,
    UserForm,
)

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
SESSION_ENDS = {
    SessionEnd.LOGOUT: "logged out",
    SessionEnd.IDLE: "left idle",
    SessionEnd.MAX_DURATION: "reached the longest session",
    SessionEnd.COMMAND: "reset by a mediator",
    SessionEnd.LOCAL: "reset at the PC",
}
COMMAND_ICONS = {
    CommandName.RESET_SESSION: "rotate-ccw",
    CommandName.LOCK_SCREEN: "lock",
    CommandName.UNLOCK_SCREEN: "lock-open",
    CommandName.SHOW_MESSAGE: "message-square-text",
    CommandName.REBOOT: "refresh-cw",
    CommandName.SHUTDOWN: "power",
    CommandName.WAKE: "sunrise",
    CommandName.MAINTENANCE: "download",
    CommandName.UPDATE_CONFIG: "settings",
    CommandName.COLLECT_LOGS: "file-text",
}
# A command's state as people read it; "running" is a sent command its device has claimed.
# app.js keeps the same words and pictograms for live updates.
COMMAND_STATES = {
    "queued": ("Queued", "hourglass"),
    "sent": ("Sent", "send"),
    "running": ("Running", "loader"),
    "done": ("Done", "circle-check"),
    "failed": ("Failed", "circle-x"),
    "expired": ("Expired", "clock"),
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
        "COMMAND_ICONS": COMMAND_ICONS,
        "COMMAND_STATES": COMMAND_STATES,
        "SESSION_ENDS": SESSION_ENDS,
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


@web.app_template_filter("ms")
def milliseconds(value: int | None) -> str:
    """A command's duration: "42 ms", "1.5 s", "3 min"."""
    if value is None:
        return "—"
    if value < 1000:
        return f"{value} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    return _span(value / 1000)


@web.app_template_filter("command_state")
def command_state(command: Command) -> str:
    """The state a page shows: ``running`` once the device has claimed a sent command."""
    if command.state == CommandState.SENT and command.started_at is not None:
        return "running"
    return str(command.state)


@web.app_template_filter("command_label")
def command_label(command: Command) -> str:
    return commands.SPECS[CommandName(command.name)].label


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


def wants_json() -> bool:
    """Whether the page's script sent the form (it asks for JSON) rather than the browser."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def json_error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


@web.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> Page:
    message = (
        "This form was too old or did not come from this site, so nothing was changed. "
        "Go back, reload the page and try again."
    )
    if wants_json():
        return json_error(400, "csrf", message)
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
    return _site_page(fleet.get_site(db_session(), _me(), site_id))


def _site_page(
    found: Site,
    form: CommandForm | None = None,
    error: str | None = None,
    status: int = 200,
    closure_form: ClosureForm | None = None,
    closure_error: str | None = None,
    limits_form: SessionLimitsForm | None = None,
    limits_error: str | None = None,
) -> Page:
    session = db_session()
    me = _me()
    devices = fleet.list_devices(session, me, site_id=found.id)
    counts = _totals([{DeviceStatus(d.status): 1} for d in devices])
    settings = settings_of(current_app)
    zone = ZoneInfo(settings.timezone)
    start = utcnow()
    try:
        plan = scheduler.site_plan(
            session,
            found,
            start,
            start + timedelta(days=7),
            SchedulePolicy(timezone=settings.timezone),
        )
    except DomainError:
        plan = []  # unreadable hours: the opening-hours box already shows them as they are
    return render_template(
        "site.html",
        site=found,
        devices=devices,
        counts=counts,
        offered=staff.site_commands(me, found),
        # One "Reset now" per public PC for those who may reset them (mediators of the site).
        reset_url=(
            (lambda d: url_for("web.device_command", device_id=d.id))
            if access.may_command(me, CommandName.RESET_SESSION, found)
            else None
        ),
        recent_commands=commands.list_commands(session, me, site_id=found.id, limit=30),
        day_codes=hotspot_portal.codes_of_the_day(
            session, me, found, timezone=settings.timezone, now=start
        ),
        command_form=form or CommandForm(formdata=None),
        command_error=error,
        plan=[(a.at.astimezone(zone), a) for a in plan],
        closures=places.list_closures(session, found, upcoming_from=start.date()),
        may_close=access.can(me, Action.MANAGE_PLACES) and access.covers_site(me, found),
        closure_form=closure_form or ClosureForm(formdata=None),
        closure_error=closure_error,
        limits_form=limits_form
        or SessionLimitsForm(
            formdata=None,
            idle_timeout_min=found.idle_timeout_min,
            max_session_min=found.max_session_min,
        ),
        limits_error=limits_error,
    ), status


@web.post("/sites/<int:site_id>/closures")
@login_required
def add_closure(site_id: int) -> Page | Response:
    session = db_session()
    me = _me()
    found = fleet.get_site(session, me, site_id)
    form = ClosureForm()
    if not form.validate():
        return _site_page(
            found, closure_form=form, closure_error="Give both days as dates.", status=400
        )
    try:
        places.add_closure(
            session, me, found, form.starts_on.data, form.ends_on.data, form.reason.data or ""
        )
    except DomainError as exc:
        session.rollback()
        return _site_page(found, closure_form=form, closure_error=exc.message, status=exc.status)
    session.commit()
    flash(
        f"{found.name} is closed from {form.starts_on.data} to {form.ends_on.data}: "
        "no wake-up those days.",
        "success",
    )
    return redirect(url_for("web.site", site_id=found.id) + "#schedule")


@web.post("/sites/<int:site_id>/session-limits")
@login_required
def set_session_limits(site_id: int) -> Page | Response:
    session = db_session()
    me = _me()
    found = fleet.get_site(session, me, site_id)
    form = SessionLimitsForm()
    outcome = _save_and_send(
        form,
        lambda: pc_usage.set_session_limits(
            session,
            me,
            found,
            idle_timeout_min=form.idle_timeout_min.data or 0,
            max_session_min=form.max_session_min.data or None,
        ),
    )
    if isinstance(outcome, Refusal):
        return _site_page(
            found, limits_form=form, limits_error=outcome.message, status=outcome.status
        )
    flash(f"Session limits saved and sent to {len(outcome)} PC(s) of {found.name}.", "success")
    return redirect(url_for("web.site", site_id=found.id) + "#sessions")


@dataclass(frozen=True)
class Refusal:
    """Why a form's change was not made, to show beside the form with this status."""

    message: str
    status: int


def _save_and_send(form: FlaskForm, change: Callable[[], list[Command]]) -> list[Command] | Refusal:
    """Validate ``form``, make the ``change`` (a domain call), commit, and send the commands it
    issued. What the form or the domain objects to comes back to show beside the form, and
    nothing is stored."""
    if not form.validate():
        return Refusal(" ".join(e for errors in form.errors.values() for e in errors), 400)
    session = db_session()
    try:
        issued = change()
    except DomainError as exc:
        session.rollback()
        return Refusal(exc.message, exc.status)
    session.commit()
    push_commands(current_app.extensions["socketio"], issued)
    return issued


@web.get("/devices/<device_id>")
@login_required
def device(device_id: str) -> Page:
    return _device_page(fleet.get_device(db_session(), _me(), device_id))


def _device_page(
    found: Device,
    form: CommandForm | None = None,
    error: str | None = None,
    status: int = 200,
    portal_form: PortalForm | None = None,
    portal_error: str | None = None,
) -> Page:
    me = _me()
    portal = None
    if found.kind == DeviceKind.HOTSPOT:
        portal = hotspot_portal.view_portal(
            db_session(), me, found, timezone=settings_of(current_app).timezone, now=utcnow()
        )
        portal_form = portal_form or PortalForm(
            formdata=None,
            mode=portal.mode.value,
            follow_site_hours=portal.follow_site_hours,
            session_min=portal.session_min,
        )
    return render_template(
        "device.html",
        device=found,
        metrics=found.metrics or {},
        inventory=found.inventory or {},
        offline_after_s=found.heartbeat_interval_s * settings_of(current_app).offline_after_missed,
        offered=staff.device_commands(me, found),
        recent_commands=commands.list_commands(db_session(), me, device_id=found.id, limit=20),
        wipes=pc_usage.recent_wipes(db_session(), found.id),
        sessions=pc_usage.recent_sessions(db_session(), found.id),
        alerts=alerts.open_alerts(db_session(), device_id=found.id),
        portal_day=portal_usage.latest_day(db_session(), found.id),
        command_form=form or CommandForm(formdata=None),
        command_error=error,
        portal=portal,
        PORTAL_MODES=PORTAL_MODES,
        may_set_portal=access.can(me, Action.MANAGE_PLACES) and access.covers_site(me, found.site),
        portal_form=portal_form,
        portal_error=portal_error,
    ), status


@web.post("/devices/<device_id>/portal")
@login_required
def set_portal(device_id: str) -> Page | Response:
    session = db_session()
    me = _me()
    found = fleet.get_device(session, me, device_id)
    form = PortalForm()
    outcome = _save_and_send(
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
    if isinstance(outcome, Refusal):
        return _device_page(
            found, portal_form=form, portal_error=outcome.message, status=outcome.status
        )
    flash(f"Wifi portal settings saved and sent to {found.name}.", "success")
    return redirect(url_for("web.device", device_id=found.id, _anchor="portal"))


# --- commands -----------------------------------------------------------------------------------


@web.post("/devices/<device_id>/commands")
@login_required
def device_command(device_id: str) -> Page:
    """Send a command to one device: a form without JavaScript (redirect and flash), JSON with."""
    try:
        found = fleet.get_device(db_session(), _me(), device_id)
    except DomainError as exc:
        if wants_json():
            return json_error(exc.status, exc.code, exc.message)
        raise
    return _send_command(found.site, found)


@web.post("/sites/<int:site_id>/commands")
@login_required
def site_command(site_id: int) -> Page:
    """Send a command to every fitting device of a site."""
    try:
        found = fleet.get_site(db_session(), _me(), site_id)
    except DomainError as exc:
        if wants_json():
            return json_error(exc.status, exc.code, exc.message)
        raise
    return _send_command(found, None)


def _send_command(site: Site, device: Device | None) -> Page:
    """Issue the form's command to ``device``, or to ``site`` as a whole when it is None.

    Disruptive commands are sent only once confirmed; without JavaScript the confirmation is a
    page of its own. A refusal of the domain is shown beside the form, and nothing is sent.
    """
    session = db_session()
    me = _me()
    form = CommandForm()

    def refuse(status: int, code: str, message: str) -> Page:
        if wants_json():
            return json_error(status, code, message)
        if device is not None:
            return _device_page(device, form, message, status)
        return _site_page(site, form, message, status)

    if not form.validate_on_submit():
        problems = [error for errors in form.errors.values() for error in errors]
        return refuse(400, "invalid_form", " ".join(problems))
    offered = staff.device_commands(me, device) if device else staff.site_commands(me, site)
    try:
        name = commands.parse_name(form.command.data or "")
        choice = next((c for c in offered if c.name == name), None)
        if choice is not None and choice.confirm and form.confirmed.data != "yes":
            if wants_json():
                return json_error(409, "confirm", choice.confirm)
            page = render_template(
                "command_confirm.html", choice=choice, form=form, device=device, site=site
            )
            return page
        issued = commands.issue(
            session,
            me,
            name,
            device_ids=[device.id] if device else (),
            site_id=None if device else site.id,
            args=_command_args(name, form),
            pushed=True,
        )
    except DomainError as exc:
        session.rollback()
        return refuse(exc.status, exc.code, exc.message)
    session.commit()
    push_commands(current_app.extensions["socketio"], issued)
    label = choice.label if choice else commands.SPECS[name].label
    if device is not None:
        message = f"{label}: sent to {device.name}. Follow it under Recent commands."
    else:
        many = f"{len(issued)} device{'s' if len(issued) > 1 else ''}"
        message = f"{label}: sent to {many} at {site.name}. Follow them under Recent commands."
    if wants_json():
        return jsonify(message=message, commands=[commands.summary(c) for c in issued]), 201
    flash(message, "success")
    if device is not None:
        return redirect(url_for("web.device", device_id=device.id, _anchor="commands"))
    return redirect(url_for("web.site", site_id=site.id, _anchor="commands"))


def _command_args(name: CommandName, form: CommandForm) -> dict[str, Any]:
    """The form's fields as the command's arguments (the domain validates them)."""
    if name is not CommandName.SHOW_MESSAGE:
        return {}
    args: dict[str, Any] = {"text": (form.text.data or "").strip()}
    if form.seconds.data is not None:
        args["seconds"] = form.seconds.data
    return args


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
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        access.require(_me(), Action.VIEW_AUDIT)
        empty = staff.AuditPage([], 1, has_next=False)
        return render_template("audit.html", page=empty, form=form, filters={}), 400
    filters = _audit_filter(form)
    page = staff.audit_page(
        db_session(), _me(), page=request.args.get("page", 1, type=int), filters=filters
    )
    return render_template("audit.html", page=page, form=form, filters=filters.as_query())


@web.get("/audit.csv")
@login_required
def audit_csv() -> Response:
    """The audit log with the page's filters, as CSV, streamed row by row."""
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        problems = [f"{form[k].label.text}: {' '.join(v)}" for k, v in form.errors.items()]
        raise DomainError("bad filter: " + "; ".join(problems))
    filters = _audit_filter(form)
    me = _me()
    # Refused now, while a 403 can still be sent: once streaming starts, the status is 200.
    access.require(me, Action.VIEW_AUDIT)
    database, user_id = database_of(current_app), me.id

    def lines() -> Iterator[str]:
        # A session of its own: the request's is closed before the response has streamed.
        with database.sessions() as session:
            user = session.get(User, user_id)
            assert user is not None
            yield from audit_export.csv_lines(staff.audit_entries(session, user, filters))

    response = Response(lines(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="borne-audit-{utcnow():%Y%m%d-%H%M}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _audit_filter(form: AuditFilterForm) -> staff.AuditFilter:
    return staff.AuditFilter(
        actor=form.actor.data or "",
        action=form.action.data or "",
        target_id=form.target_id.data or "",
        since=form.since.data,
        until=form.until.data,
    )
