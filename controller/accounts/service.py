"""Staff accounts: creation, password checks, sign-ins, scopes."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller import access, audit
from controller.access import Action, Role, role_word
from controller.accounts.models import User, UserScope
from controller.errors import Conflict, DomainError, NotFound
from controller.i18n import LANGUAGES, _
from controller.lockers import settings as kiosks
from controller.offload import offload
from controller.places import service as places
from controller.places.models import Organisation, Site

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,79}$")
MIN_PASSWORD = 10


@functools.cache
def _dummy_hash() -> str:
    """A fixed hash to verify against when the user does not exist, so timing tells nothing.

    Made at the first sign-in rather than at import: hashing takes tens of milliseconds.
    """
    return _hasher.hash("borne-no-such-user")


def hash_password(password: str) -> str:
    """An argon2id hash, computed off the gevent hub (:func:`controller.offload.offload`)."""
    return offload(_hasher.hash, password)


def _password_matches(password_hash: str, password: str) -> bool:
    # The answer, not an exception, crosses back from the thread pool.
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    password_hash = user.password_hash if user else _dummy_hash()
    # The check takes tens of milliseconds of CPU, on purpose, so it runs off the hub, where
    # other requests write meanwhile. A SQLite snapshot taken before it could not write after
    # it ("database is locked"): the read ends here (nothing is pending at a sign-in), and the
    # sign-in's own writes (the audit, a rehash) begin afresh after the check.
    session.commit()
    if not offload(_password_matches, password_hash, password):
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
    email: str = "",
) -> User:
    """Create a staff account. Organisations and sites are given by id, name or slug."""
    if not isinstance(actor, str):
        access.require(actor, Action.MANAGE_USERS)
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise DomainError(
            _("a username is 2 to 80 lowercase letters, digits, dots, dashes or underscores")
        )
    if len(password) < MIN_PASSWORD:
        raise DomainError(_("a password needs at least %(count)s characters", count=MIN_PASSWORD))
    role = _role(role)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(_("the username %(name)s is taken", name=username))

    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        full_name=full_name.strip(),
        email=checked_email(email),
    )
    for ref in organisations:
        user.scopes.append(UserScope(organisation_id=places.find_organisation(session, ref).id))
    for ref in sites:
        user.scopes.append(UserScope(site_id=places.find_site(session, ref).id))
    if role is not Role.ADMIN and not user.scopes:
        raise DomainError(
            _("a %(role)s must cover at least one organisation or site", role=role_word(role))
        )
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


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise DomainError(
            _(
                "unknown role %(role)s; choose one of %(roles)s",
                role=repr(role),
                roles=", ".join(r.value for r in Role),
            )
        ) from None


def record_login(session: Session, user: User) -> None:
    """Note a successful sign-in in the audit log."""
    audit.record(session, user, "user.login", "user", user.id, f"{user.username} signed in")


def record_failed_login(session: Session, username: str, address: str, reason: str) -> None:
    """Note a failed sign-in in the audit log: the account when it exists, and never what was
    typed otherwise (a password typed into the username field must not end up in a log)."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    audit.record(
        session,
        "anonymous",
        "user.login_failed",
        "user",
        user.id if user else "unknown",
        f"failed sign-in as {user.username}" if user else "failed sign-in, unknown account",
        address=address,
        reason=reason,
    )


def sign_out(session: Session, user: User) -> None:
    """End the user's sessions here and now, a copied cookie's too, and say so in the log."""
    user.session_epoch += 1
    audit.record(session, user, "user.logout", "user", user.id, f"{user.username} signed out")


def _keep_an_admin(session: Session, actor: audit.Actor, user: User) -> None:
    """Refuse to leave the pages with no active admin: nobody could manage users there any
    more. The command line may (it is how a lost admin account is given back)."""
    if isinstance(actor, str) or Role(user.role) is not Role.ADMIN or not user.active:
        return
    others = session.scalar(
        select(func.count(User.id)).where(
            User.role == Role.ADMIN, User.active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise Conflict(
            _(
                "%(name)s is the last active admin: nobody would be left to manage users",
                name=user.username,
            )
        )


def set_active(session: Session, actor: audit.Actor, user: User, active: bool) -> User:
    """Enable or disable an account; disabling ends its sessions at once."""
    if not isinstance(actor, str):
        access.require(actor, Action.MANAGE_USERS)
    if user.active == active:
        return user
    if not active:
        _keep_an_admin(session, actor, user)
    user.active = active
    if not active:
        user.session_epoch += 1
    audit.record(
        session,
        actor,
        "user.enable" if active else "user.disable",
        "user",
        user.id,
        f"{'enabled' if active else 'disabled'} {user.username}",
    )
    if user.kiosk_pin_hash is not None:  # their PIN leaves the kiosks of their places, or returns
        kiosks.send_staff_pins(session, places.visible_site_ids(session, user))
    return user


def set_password(
    session: Session,
    actor: audit.Actor,
    user: User,
    new_password: str,
    *,
    current_password: str | None = None,
) -> User:
    """Give ``user`` a new password and end their sessions (every copy of the old cookie).

    People change their own, saying their current one (``current_password``); those who
    manage users (and the command line) reset anyone's."""
    own = not isinstance(actor, str) and actor.id == user.id
    if own:
        if current_password is None or not _password_matches(user.password_hash, current_password):
            raise DomainError(_("your current password is not that one: nothing was changed"))
    elif not isinstance(actor, str):
        access.require(actor, Action.MANAGE_USERS)
    if len(new_password) < MIN_PASSWORD:
        raise DomainError(_("a password needs at least %(count)s characters", count=MIN_PASSWORD))
    user.password_hash = hash_password(new_password)
    user.session_epoch += 1
    audit.record(
        session,
        actor,
        "user.password",
        "user",
        user.id,
        f"{user.username} changed their password" if own else f"password of {user.username} reset",
    )
    return user


def set_role_and_scopes(
    session: Session,
    actor: audit.Actor,
    user: User,
    *,
    role: Role | str,
    organisations: Iterable[str | int] = (),
    sites: Iterable[str | int] = (),
) -> bool:
    """Give ``user`` another role or other places; their sessions end when anything changed
    (a page open elsewhere must not keep rights the account lost). Whether anything changed."""
    if not isinstance(actor, str):
        access.require(actor, Action.MANAGE_USERS)
    role = _role(role)
    wanted = {(places.find_organisation(session, ref).id, None) for ref in organisations} | {
        (None, places.find_site(session, ref).id) for ref in sites
    }
    if role is not Role.ADMIN and not wanted:
        raise DomainError(
            _("a %(role)s must cover at least one organisation or site", role=role_word(role))
        )
    current = {(s.organisation_id, s.site_id) for s in user.scopes}
    if role == user.role and wanted == current:
        return False
    if role is not Role.ADMIN:
        _keep_an_admin(session, actor, user)
    # A kiosk PIN goes to the kiosks of the places its owner covers: those they leave lose it.
    covered_before = (
        places.visible_site_ids(session, user) if user.kiosk_pin_hash is not None else set()
    )
    before = user.role
    user.role = role
    user.scopes = [UserScope(organisation_id=o, site_id=s) for o, s in sorted(wanted, key=str)]
    user.session_epoch += 1
    audit.record(
        session,
        actor,
        "user.update",
        "user",
        user.id,
        f"{user.username}: {before} → {role.value}"
        if before != role
        else f"{user.username}: places changed",
        role=role.value,
        role_before=before,
        scopes=sorted(wanted, key=str),
        scopes_before=sorted(current, key=str),
    )
    if user.kiosk_pin_hash is not None:
        kiosks.send_staff_pins(session, covered_before | places.visible_site_ids(session, user))
    return True


def set_language(session: Session, user: User, language: str | None) -> User:
    """The language ``user`` reads the pages in; None: their browser's."""
    if language is not None and language not in LANGUAGES:
        raise DomainError(_("unknown language %(code)s", code=repr(language)))
    user.language = language
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(_("no user %(name)s", name=repr(username)))
    return user


def get_user(session: Session, actor: User, user_id: int) -> User:
    """The account ``user_id``, for whoever manages users."""
    access.require(actor, Action.MANAGE_USERS)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("no user %(name)s", name=user_id))
    return user


def list_users(session: Session, user: User) -> list[User]:
    access.require(user, Action.MANAGE_USERS)
    return list(session.scalars(select(User).order_by(User.username)))


def scope_choices(session: Session, user: User) -> tuple[list[Organisation], list[Site]]:
    """Organisations and sites a new account may be given (whoever manages users sees them all)."""
    access.require(user, Action.MANAGE_USERS)
    organisations = list(session.scalars(select(Organisation).order_by(Organisation.name)))
    sites = list(
        session.scalars(select(Site).join(Organisation).order_by(Organisation.name, Site.name))
    )
    return organisations, sites


def scope_names(session: Session, users: list[User]) -> dict[int, list[str]]:
    """For each user id, the names of the organisations and sites it covers."""
    org_names = {
        id_: name for id_, name in session.execute(select(Organisation.id, Organisation.name))
    }
    site_names = {id_: name for id_, name in session.execute(select(Site.id, Site.name))}
    return {
        u.id: [
            org_names.get(s.organisation_id, "?")
            if s.organisation_id is not None
            else site_names.get(s.site_id or 0, "?")
            for s in u.scopes
        ]
        for u in users
    }


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def checked_email(email: str) -> str:
    """An e-mail address as people type it, or "" for none; a clear refusal otherwise."""
    email = email.strip()
    if email and (len(email) > 254 or not EMAIL.match(email)):
        raise DomainError(_("%(email)s is not an e-mail address", email=email))
    return email


def set_email(session: Session, actor: audit.Actor, user: User, email: str) -> User:
    """Where ``user`` is told of what concerns them; "" stops the e-mails."""
    if not isinstance(actor, str) and actor.id != user.id:
        access.require(actor, Action.MANAGE_USERS)
    user.email = checked_email(email)
    audit.record(session, actor, "user.email", "user", user.id, user.username)
    return user
