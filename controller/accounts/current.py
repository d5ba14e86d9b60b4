"""Who is signed in: Flask-Login's loaders and the signed-in member of staff for the adapters.

Pages know people by their session cookie. The API knows them by the same cookie (the pages'
scripts) or by a personal API token sent as ``Authorization: Bearer`` (scripts); a request
that sends a token is judged by the token alone, never by a cookie it also carries.
"""

from __future__ import annotations

from flask import Request, current_app, g, request
from flask_login import current_user

from controller.accounts import api_tokens
from controller.accounts.models import User
from controller.context import database_of, db_session
from controller.errors import PermissionDenied, Unauthenticated

# What a read-only token may do: look, never change.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader: the signed-in user, if still active and the session not ended
    since (``"<id>.<session epoch>"``, see :attr:`User.session_epoch`)."""
    if _bearer(request) is not None:
        return None  # the token decides (load_from_token)
    user_id, _, epoch = session_id.partition(".")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None  # a cookie from before sessions could end: sign in again
    user = db_session().get(User, int(user_id))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


def _bearer(req: Request) -> str | None:
    """The token of an API request's ``Authorization: Bearer``, or None."""
    if not req.path.startswith("/api/"):
        return None  # pages take sessions only: a token cannot skip their CSRF protection
    scheme, _, credentials = req.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def load_from_token(req: Request) -> User | None:
    """Flask-Login's request loader: the owner of a valid API token, or 401 saying why."""
    presented = _bearer(req)
    if presented is None:
        return None
    session = db_session()
    token = api_tokens.authenticate_token(session, presented)
    if token.read_only and req.method not in READ_METHODS:
        raise PermissionDenied("this API token is read-only", code="read_only_token")
    g.api_token_id = token.id
    if api_tokens.use_to_note(token):
        # A transaction of its own, since the request's may only read (and then must not wait
        # for a writer); the request's read ends first, nothing being pending yet.
        session.commit()
        with database_of(current_app).session() as writing:
            api_tokens.note_use(writing, token)
    return token.user


def language_of_account() -> str | None:
    """The language the signed-in person chose for the pages, if any (controller/i18n.py).

    Not for the API: its messages follow Accept-Language, and reading the person there could
    refuse a token while an error is being answered."""
    if request.path.startswith("/api/") or not current_user.is_authenticated:
        return None
    language: str | None = current_user.language
    return language


def signed_in() -> User:
    """The signed-in member of staff as the domain knows it (not Flask-Login's proxy); 401
    otherwise (the API takes the web session or an API token)."""
    if not current_user.is_authenticated:
        raise Unauthenticated(
            "sign in first, or send an API token as Authorization: Bearer",
            headers={"WWW-Authenticate": 'Bearer realm="borne"'},
        )
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user
