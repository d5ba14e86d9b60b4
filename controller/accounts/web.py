"""The accounts' pages: signing in and out, the users, the audit log and its CSV export.

Views parse input, call the domain (which checks roles and scopes itself) and render.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

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
from flask import session as flask_session
from flask_login import current_user, login_required, login_user, logout_user
from prometheus_client import Counter
from wtforms import SelectChoice

from controller import access
from controller.access import Action
from controller.accounts import audit_export, audit_search
from controller.accounts import service as users
from controller.accounts.current import signed_in
from controller.accounts.forms import (
    AuditFilterForm,
    LoginForm,
    LogoutForm,
    PasswordForm,
    UserForm,
)
from controller.accounts.models import User
from controller.accounts.throttle import SignInThrottle
from controller.context import database_of, db_session
from controller.db import utcnow
from controller.errors import DomainError
from controller.web.pages import Page, safe_next

accounts = Blueprint("accounts", __name__, template_folder="templates")
FAILED_LOGIN = "Unknown username or wrong password."
THROTTLE = "borne.sign_in_throttle"
FAILURES = "borne.sign_in_failures"


@accounts.app_context_processor
def logout_button() -> dict[str, object]:
    """The layout's "Sign out" form, for the signed-in."""
    if not current_user.is_authenticated:
        return {"logout_form": None}
    return {
        "logout_form": LogoutForm(),
        "logout_url": url_for("accounts.logout"),
        "account_url": url_for("accounts.own_password"),
    }


@accounts.route("/login", methods=["GET", "POST"])
def login() -> Page:
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("fleet.index"))
        form.next.data = safe_next(request.args.get("next")) or ""
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("accounts/login.html", form=form), status
    throttle: SignInThrottle = current_app.extensions[THROTTLE]
    failures: Counter = current_app.extensions[FAILURES]
    address = request.remote_addr or "unknown"
    account = (form.username.data or "").strip().lower()
    wait = throttle.retry_after(address, account)
    session = db_session()
    if wait:
        failures.labels("throttled").inc()
        return _too_many_attempts(form, wait)
    user = users.authenticate(session, account, form.password.data or "")
    if user is None:
        throttle.failed(address, account)
        failures.labels("wrong_credentials").inc()
        users.record_failed_login(session, account, address, "wrong_credentials")
        session.commit()
        # One message whether the user exists or not: a sign-in form must not reveal accounts.
        return render_template("accounts/login.html", form=form, error=FAILED_LOGIN), 401
    throttle.succeeded(account)
    users.record_login(session, user)
    session.commit()
    flask_session.clear()  # a new session at sign-in: nothing planted before it survives
    login_user(user)
    return redirect(safe_next(form.next.data) or url_for("fleet.index"))


def _too_many_attempts(form: LoginForm, wait: float) -> Response:
    """429 with ``Retry-After``: the password is not even checked while the wait lasts."""
    seconds = math.ceil(wait)
    error = f"Too many failed attempts: wait {seconds} seconds, then try again."
    page = render_template("accounts/login.html", form=form, error=error)
    response = Response(page, status=429)
    response.headers["Retry-After"] = str(seconds)
    return response


@accounts.post("/logout")
@login_required
def logout() -> Response:
    form = LogoutForm()
    if form.validate_on_submit():  # CSRFProtect has already refused a missing token
        session = db_session()
        users.sign_out(session, signed_in())
        session.commit()
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@accounts.route("/account/password", methods=["GET", "POST"])
@login_required
def own_password() -> Page:
    """Change one's own password; every other session of the account ends with it."""
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        session = db_session()
        me = signed_in()
        try:
            users.set_password(
                session, me, me, form.new.data or "", current_password=form.current.data or ""
            )
        except DomainError as exc:
            session.rollback()
            error = exc.message
        else:
            session.commit()
            login_user(me)  # this session goes on, under the account's new epoch
            flash("Your password is changed; your other sessions have ended.", "success")
            return redirect(url_for("fleet.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/password.html", form=form, error=error), status


@accounts.route("/users", methods=["GET", "POST"])
@login_required
def user_list() -> Page:
    session = db_session()
    me = signed_in()
    accounts = users.list_users(session, me)  # refuses anyone who may not manage users
    organisations, sites = users.scope_choices(session, me)
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
            return redirect(url_for("accounts.user_list"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "accounts/users.html",
        form=form,
        accounts=accounts,
        scopes=users.scope_names(session, accounts),
        error=error,
    ), status


@accounts.get("/audit")
@login_required
def audit_log() -> Page:
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        access.require(signed_in(), Action.VIEW_AUDIT)
        empty = audit_search.AuditPage([], 1, has_next=False)
        return render_template("accounts/audit.html", page=empty, form=form, filters={}), 400
    filters = _audit_filter(form)
    page = audit_search.audit_page(
        db_session(), signed_in(), page=request.args.get("page", 1, type=int), filters=filters
    )
    return render_template("accounts/audit.html", page=page, form=form, filters=filters.as_query())


@accounts.get("/audit.csv")
@login_required
def audit_csv() -> Response:
    """The audit log with the page's filters, as CSV, streamed row by row."""
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        problems = [f"{form[k].label.text}: {' '.join(v)}" for k, v in form.errors.items()]
        raise DomainError("bad filter: " + "; ".join(problems))
    filters = _audit_filter(form)
    me = signed_in()
    # Refused now, while a 403 can still be sent: once streaming starts, the status is 200.
    access.require(me, Action.VIEW_AUDIT)
    database, user_id = database_of(current_app), me.id

    def lines() -> Iterator[str]:
        # A session of its own: the request's is closed before the response has streamed.
        with database.sessions() as session:
            user = session.get(User, user_id)
            assert user is not None
            yield from audit_export.csv_lines(audit_search.audit_entries(session, user, filters))

    response = Response(lines(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="borne-audit-{utcnow():%Y%m%d-%H%M}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _audit_filter(form: AuditFilterForm) -> audit_search.AuditFilter:
    return audit_search.AuditFilter(
        actor=form.actor.data or "",
        action=form.action.data or "",
        target_id=form.target_id.data or "",
        since=form.since.data,
        until=form.until.data,
    )
