"""The accounts' actions in the audit log, in words, and their targets by name."""

from __future__ import annotations

from flask import Flask, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import audit
from controller.accounts.models import ApiToken, User
from controller.i18n import _l

WORDS = {
    "user.create": _l("Account created"),
    "user.update": _l("Role or places changed"),
    "user.disable": _l("Account disabled"),
    "user.enable": _l("Account enabled"),
    "user.password": _l("Password changed"),
    "user.email": _l("E-mail address changed"),
    "user.kiosk_pin": _l("Kiosk PIN set"),
    "user.kiosk_pin_removed": _l("Kiosk PIN removed"),
    "user.login": _l("Signed in"),
    "user.logout": _l("Signed out"),
    "user.login_failed": _l("Failed sign-in"),
    "api_token.create": _l("API token created"),
    "api_token.revoke": _l("API token revoked"),
}


def _users(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    numbers = [int(i) for i in ids if i.isdigit()]
    found = session.execute(select(User.id, User.username).where(User.id.in_(numbers)))
    return {
        str(user_id): (name, url_for("accounts.user_detail", user_id=user_id))
        for user_id, name in found
    }


def _api_tokens(session: Session, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    numbers = [int(i) for i in ids if i.isdigit()]
    found = session.execute(select(ApiToken.id, ApiToken.name).where(ApiToken.id.in_(numbers)))
    return {str(token_id): (str(_l("token %(name)s", name=name)), None) for token_id, name in found}


def init_audit_words(app: Flask) -> None:
    audit.describe_actions(app, WORDS)
    audit.name_targets(app, "user", _users)
    audit.name_targets(app, "api_token", _api_tokens)
