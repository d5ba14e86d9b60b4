"""Who is signed in: Flask-Login's loader and the signed-in member of staff for the adapters."""

from __future__ import annotations

from flask_login import current_user

from controller.accounts.models import User
from controller.context import db_session
from controller.errors import Unauthenticated


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the signed-in user, if still active."""
    user = db_session().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def signed_in() -> User:
    """The signed-in member of staff as the domain knows it (not Flask-Login's proxy); 401
    otherwise (the API uses the web session)."""
    if not current_user.is_authenticated:
        raise Unauthenticated("sign in first (the API uses the web session)")
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user
