"""Staff accounts: creation, password checks, scopes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import access, audit, places
from controller.choices import Action, Role
from controller.errors import Conflict, DomainError
from controller.models import User, UserScope

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
MIN_PASSWORD = 10
# A fixed hash to verify against when the user does not exist, so timing tells nothing.
_DUMMY_HASH = _hasher.hash("borne-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def create_user(
    session: Session,
    actor: audit.Actor,
    *,
    username: str,
    password: str,
    role: Role | str,
    full_name: str = "",
    organisations: Iterable[str | int] = (),
    sites: Iterable[str | int] = (),
) -> User:
    """Create a staff account. Organisations and sites are given by id, name or slug."""
    if isinstance(actor, User):
        access.require(actor, Action.MANAGE_USERS)
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise DomainError(
            "a username is 2 to 80 lowercase letters, digits, dots, dashes or underscores"
        )
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"a password needs at least {MIN_PASSWORD} characters")
    try:
        role = Role(role)
    except ValueError:
        raise DomainError(
            f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}"
        ) from None
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"the username {username!r} is taken")

    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        full_name=full_name.strip(),
    )
    for ref in organisations:
        user.scopes.append(UserScope(organisation_id=places.find_organisation(session, ref).id))
    for ref in sites:
        user.scopes.append(UserScope(site_id=places.find_site(session, ref).id))
    if role is not Role.ADMIN and not user.scopes:
        raise DomainError(f"a {role.value} must cover at least one organisation or site")
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        f"created {role.value} {username}",
        role=role.value,
        scopes=[(s.organisation_id, s.site_id) for s in user.scopes],
    )
    return user
