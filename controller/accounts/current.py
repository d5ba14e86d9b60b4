"""Who is signed in: Flask-Login's loader and the signed-in member of staff for the adapters."""

from __future__ import annotations

from flask_login import current_user

from controller.accounts.models import User
from controller.context import db_session
from controller.errors import Unauthenticated


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: the signed-in user, if still active and the session not ended
    since (``"<id>.<session epoch>"``, see :attr:`User.session_epoch`)."""
    user_id, _, epoch = session_id.partition(".")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None  # a cookie from before sessions could end: sign in again
    user = db_session().get(User, int(user_id))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


def signed_in() -> User:
    """The signed-in member of staff as the domain knows it (not Flask-Login's proxy); 401
    otherwise (the API uses the web session)."""
    if not current_user.is_authenticated:
        raise Unauthenticated("sign in first (the API uses the web session)")
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user
