"""Accounts: staff users and the places they cover, signing in and out, the audit-log pages."""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager

from controller.access import Action
from controller.i18n import LANGUAGE_OF_ACCOUNT, _l
from controller.web.pages import NavItem, add_navigation


def init_app(app: Flask) -> None:
    from prometheus_client import Counter

    from controller.accounts.audit_words import init_audit_words
    from controller.accounts.current import language_of_account, load_from_token, load_user
    from controller.accounts.throttle import SignInThrottle
    from controller.accounts.web import FAILURES, THROTTLE, accounts
    from controller.metrics import registry_of

    # One login manager per app: its settings are this app's, not a module's global state.
    login_manager = LoginManager()
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.user_loader(load_user)
    login_manager.request_loader(load_from_token)
    login_manager.init_app(app)
    app.register_blueprint(accounts)
    settings = app.extensions["borne.settings"]
    app.extensions[THROTTLE] = SignInThrottle(
        per_account=settings.sign_in_failures_per_account,
        per_address=settings.sign_in_failures_per_address,
    )
    app.extensions[FAILURES] = Counter(
        "borne_sign_in_failures",
        "Failed sign-ins to the staff pages (wrong_credentials, or throttled: refused unchecked)",
        ["reason"],
        registry=registry_of(app),
    )
    add_navigation(
        app, NavItem("accounts.user_list", _l("Users"), "users", Action.MANAGE_USERS, 30)
    )
    add_navigation(
        app, NavItem("accounts.audit_log", _l("Audit log"), "scroll-text", Action.VIEW_AUDIT, 40)
    )
    app.extensions[LANGUAGE_OF_ACCOUNT] = language_of_account
    init_audit_words(app)
