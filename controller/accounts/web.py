"""The accounts' pages: signing in and out, the users, the audit log and its CSV export.

Views parse input, call the domain (which checks roles and scopes itself) and render.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from zoneinfo import ZoneInfo

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
from sqlalchemy.orm import Session
from wtforms import SelectChoice

from controller import access, audit
from controller.access import Action, role_word
from controller.accounts import api_tokens, audit_export, audit_search, kiosk_pin
from controller.accounts import service as users
from controller.accounts.current import signed_in
from controller.accounts.forms import (
    AccessForm,
    ActiveForm,
    ApiTokenForm,
    AuditFilterForm,
    KioskPinForm,
    LanguageForm,
    LoginForm,
    LogoutForm,
    PasswordForm,
    RemoveKioskPinForm,
    ResetPasswordForm,
    RevokeApiTokenForm,
    UserForm,
)
from controller.accounts.models import User
from controller.accounts.throttle import SignInThrottle
from controller.commands.delivery import send_now
from controller.context import database_of, db_session, settings_of
from controller.db import utcnow
from controller.errors import DomainError
from controller.i18n import _, _l, ngettext
from controller.web.pages import Page, safe_next

accounts = Blueprint("accounts", __name__, template_folder="templates")
FAILED_LOGIN = _l("Unknown username or wrong password.")
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
    error = _(
        "Too many failed attempts: wait %(seconds)s seconds, then try again.", seconds=seconds
    )
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
        flash(_("You are signed out."), "info")
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
            flash(_("Your password is changed; your other sessions have ended."), "success")
            return redirect(url_for("fleet.index"))
    status = 400 if request.method == "POST" else 200
    return _account_page(form=form, error=error), status


def _account_page(
    *,
    form: PasswordForm | None = None,
    error: str | None = None,
    pin_form: KioskPinForm | None = None,
    pin_error: str | None = None,
) -> str:
    """My account: the pages' language, one's password, one's kiosk PIN."""
    me = signed_in()
    return render_template(
        "accounts/password.html",
        form=form or PasswordForm(formdata=None),
        error=error,
        language_form=_language_form(),
        may_hold_pin=kiosk_pin.may_hold_pin(me),
        has_pin=me.kiosk_pin_hash is not None,
        pin_form=pin_form or KioskPinForm(formdata=None),
        pin_error=pin_error,
        remove_pin_form=RemoveKioskPinForm(formdata=None),
    )


@accounts.post("/account/kiosk-pin")
@login_required
def own_kiosk_pin() -> Page:
    """Set one's kiosk PIN (the password asked again); the kiosks of one's places get it at
    once."""
    form = KioskPinForm()
    if not form.validate_on_submit():
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _account_page(pin_form=form, pin_error=problems), 400
    session = db_session()
    me = signed_in()
    try:
        issued = kiosk_pin.set_pin(
            session, me, form.pin.data or "", password=form.password.data or ""
        )
    except DomainError as exc:
        session.rollback()
        return _account_page(pin_form=form, pin_error=exc.message), exc.status
    session.commit()
    send_now(issued)
    flash(
        ngettext(
            "Your kiosk PIN is saved and sent to %(num)d kiosk of your places. Type it there "
            "with your username.",
            "Your kiosk PIN is saved and sent to %(num)d kiosks of your places. Type it there "
            "with your username.",
            len(issued),
        ),
        "success",
    )
    return redirect(url_for("accounts.own_password", _anchor="kiosk-pin"))


@accounts.post("/account/kiosk-pin/remove")
@login_required
def remove_own_kiosk_pin() -> Response:
    """Remove one's kiosk PIN, here and from the kiosks of one's places."""
    if not RemoveKioskPinForm().validate_on_submit():
        raise DomainError(_("this form was too old; reload the page and try again"))
    session = db_session()
    me = signed_in()
    issued = kiosk_pin.remove_pin(session, me, me)
    session.commit()
    send_now(issued)
    flash(_("Your kiosk PIN is removed: it opens no locker any more."), "success")
    return redirect(url_for("accounts.own_password", _anchor="kiosk-pin"))


def _language_form() -> LanguageForm:
    form = LanguageForm()
    if not form.is_submitted():
        form.language.data = signed_in().language or ""
    return form


@accounts.post("/account/language")
@login_required
def own_language() -> Response:
    """Read the pages in French or English from now on, or as one's browser asks."""
    form = _language_form()
    if not form.validate_on_submit():
        raise DomainError(_("this form was too old; reload the page and try again"))
    session = db_session()
    users.set_language(session, signed_in(), form.language.data or None)
    session.commit()
    flash(_("The pages are now in this language."), "success")
    return redirect(url_for("accounts.own_password"))


@accounts.route("/account/tokens", methods=["GET", "POST"])
@login_required
def own_tokens() -> Page:
    """One's personal API tokens: make one (shown once), see their last use, revoke them."""
    session = db_session()
    me = signed_in()
    form = ApiTokenForm()
    error = None
    if form.validate_on_submit():
        try:
            token, secret = api_tokens.create_token(
                session,
                me,
                me,
                name=form.name.data or "",
                days=form.days.data or api_tokens.DEFAULT_DAYS,
                read_only=bool(form.read_only.data),
            )
        except DomainError as exc:
            session.rollback()
            error = exc.message
        else:
            session.commit()
            public_url = settings_of(current_app).public_url or request.url_root
            page = render_template(
                "accounts/api_token_created.html",
                token=token,
                secret=secret,
                devices_url=public_url.rstrip("/") + "/api/v1/devices",
            )
            response = Response(page, status=201)
            response.headers["Cache-Control"] = "no-store"  # shown once: kept in no cache
            return response
    status = 400 if request.method == "POST" else 200
    return render_template(
        "accounts/api_tokens.html",
        form=form,
        error=error,
        tokens=api_tokens.tokens_of(session, me, me),
        state=api_tokens.state,
        revoke_form=RevokeApiTokenForm(),
    ), status


@accounts.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_own_token(token_id: int) -> Response:
    if not RevokeApiTokenForm().validate_on_submit():
        raise DomainError(_("this form was too old; reload the page and try again"))
    session = db_session()
    token = api_tokens.revoke_token(session, signed_in(), api_tokens.find_token(session, token_id))
    session.commit()
    flash(_("The token %(name)s is revoked: it opens nothing now.", name=token.name), "success")
    # Back where the button was: one's own tokens, or the owner's page for an admin.
    return redirect(safe_next(request.form.get("next")) or url_for("accounts.own_tokens"))


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
            flash(
                _(
                    "User %(name)s added as %(role)s.",
                    name=created.username,
                    role=role_word(created.role),
                ),
                "success",
            )
            return redirect(url_for("accounts.user_list"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "accounts/users.html",
        form=form,
        accounts=accounts,
        scopes=users.scope_names(session, accounts),
        error=error,
    ), status


def _access_form(session: Session, me: User, user: User | None = None) -> AccessForm:
    organisations, sites = users.scope_choices(session, me)
    form = AccessForm(obj=None if user is None else _AccessData(user))
    form.organisations.choices = [SelectChoice(o.id, o.name) for o in organisations]
    form.sites.choices = [SelectChoice(s.id, f"{s.name} ({s.organisation.name})") for s in sites]
    return form


class _AccessData:
    """An account's role and places as :class:`AccessForm` reads them."""

    def __init__(self, user: User) -> None:
        self.role = user.role
        self.organisations = [s.organisation_id for s in user.scopes if s.organisation_id]
        self.sites = [s.site_id for s in user.scopes if s.site_id]


def _user_page(
    user: User,
    *,
    access_form: AccessForm | None = None,
    password_form: ResetPasswordForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db_session()
    me = signed_in()
    return render_template(
        "accounts/user.html",
        account=user,
        access_form=access_form or _access_form(session, me, user),
        password_form=password_form or ResetPasswordForm(),
        active_form=ActiveForm(),
        tokens=api_tokens.tokens_of(session, me, user),
        state=api_tokens.state,
        revoke_form=RevokeApiTokenForm(),
        error=error,
    ), status


@accounts.get("/users/<int:user_id>")
@login_required
def user_detail(user_id: int) -> Page:
    """One account for an admin: role and places, password, disable or enable, API tokens."""
    return _user_page(users.get_user(db_session(), signed_in(), user_id))


@accounts.post("/users/<int:user_id>/access")
@login_required
def change_access(user_id: int) -> Page:
    session = db_session()
    me = signed_in()
    user = users.get_user(session, me, user_id)
    form = _access_form(session, me)
    if not form.validate_on_submit():
        return _user_page(user, access_form=form, status=400)
    try:
        changed = users.set_role_and_scopes(
            session,
            me,
            user,
            role=form.role.data or "",
            organisations=form.organisations.data or [],
            sites=form.sites.data or [],
        )
    except DomainError as exc:
        session.rollback()
        return _user_page(user, access_form=form, error=exc.message, status=exc.status)
    session.commit()
    if changed and user.id == me.id:
        login_user(user)  # one's own page goes on, under the new rights
    flash(
        _(
            "%(name)s is now %(role)s; their sessions have ended.",
            name=user.username,
            role=role_word(user.role),
        )
        if changed
        else _("Nothing changed."),
        "success" if changed else "info",
    )
    return redirect(url_for("accounts.user_detail", user_id=user.id))


@accounts.post("/users/<int:user_id>/password")
@login_required
def reset_password(user_id: int) -> Page:
    session = db_session()
    me = signed_in()
    user = users.get_user(session, me, user_id)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return _user_page(user, password_form=form, status=400)
    if user.id == me.id:
        return _user_page(
            user, password_form=form, error=_("Change your own password on My account."), status=400
        )
    try:
        users.set_password(session, me, user, form.password.data or "")
    except DomainError as exc:
        session.rollback()
        return _user_page(user, password_form=form, error=exc.message, status=exc.status)
    session.commit()
    flash(
        _("%(name)s has a new password; their sessions have ended.", name=user.username), "success"
    )
    return redirect(url_for("accounts.user_detail", user_id=user.id))


@accounts.post("/users/<int:user_id>/<any(enable, disable):change>")
@login_required
def change_active(user_id: int, change: str) -> Page:
    session = db_session()
    me = signed_in()
    user = users.get_user(session, me, user_id)
    if not ActiveForm().validate_on_submit():
        raise DomainError(_("this form was too old; reload the page and try again"))
    try:
        users.set_active(session, me, user, change == "enable")
    except DomainError as exc:
        session.rollback()
        return _user_page(user, error=exc.message, status=exc.status)
    session.commit()
    if change == "enable":
        flash(_("%(name)s can sign in again.", name=user.username), "success")
    else:
        flash(
            _("%(name)s is disabled: their sessions and API tokens stopped.", name=user.username),
            "success",
        )
    return redirect(url_for("accounts.user_detail", user_id=user.id))


@accounts.get("/audit")
@login_required
def audit_log() -> Page:
    session = db_session()
    me = signed_in()
    access.require(me, Action.VIEW_AUDIT)
    form = _audit_filter_form(session, me)
    if not form.validate():
        empty = audit_search.AuditPage([], 1, has_next=False)
        return render_template(
            "accounts/audit.html", page=empty, form=form, filters={}, words={}, targets={}
        ), 400
    filters = _audit_filter(form)
    page = audit_search.audit_page(
        session, me, page=request.args.get("page", 1, type=int), filters=filters
    )
    return render_template(
        "accounts/audit.html",
        page=page,
        form=form,
        filters=filters.as_query(),
        words=audit.action_words(current_app),
        targets=audit.target_names(current_app, session, page.entries),
    )


def _audit_filter_form(session: Session, me: User) -> AuditFilterForm:
    """The filters, with the people in the log and the actions in words to choose from."""
    form = AuditFilterForm(formdata=request.args)
    everyone = [SelectChoice("", _("Everyone"))]
    form.actor.choices = everyone + [
        SelectChoice(name, name) for name in audit_search.actors(session, me)
    ]
    words = audit.action_words(current_app)
    described = sorted(
        (SelectChoice(code, str(text)) for code, text in words.items()),
        key=lambda choice: str(choice.label),
    )
    form.action.choices = [SelectChoice("", _("Every action")), *described]
    return form


@accounts.get("/audit.csv")
@login_required
def audit_csv() -> Response:
    """The audit log with the page's filters, as CSV, streamed row by row."""
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        problems = [
            f"{form[k].label.text}: {' '.join(map(str, v))}" for k, v in form.errors.items()
        ]
        raise DomainError(_("bad filter: %(problems)s", problems="; ".join(problems)))
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
        sign_ins=bool(form.sign_ins.data),
        zone=ZoneInfo(settings_of(current_app).timezone),
    )
