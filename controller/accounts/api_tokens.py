"""Personal API tokens for scripts and automation (the Ansible inventory, a monitoring probe).

A token acts as its owner — the owner's role and places, read live, so a change to the account
applies to its tokens at once — or narrower: a read-only token is refused every request that
could change something. It is shown once at creation and stored as a SHA-256 digest; it expires,
can be revoked by its owner or by whoever manages users, and stops working when its owner's
account is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller import access, audit
from controller.access import Action
from controller.accounts.models import ApiToken, User
from controller.db import utcnow
from controller.errors import DomainError, NotFound, PermissionDenied, Unauthenticated
from controller.i18n import _

# "bat_" (borne API token): recognisable in a leaked file, a log or a secret scanner's rules.
TOKEN_PREFIX = "bat_"  # noqa: S105 (a prefix, not a secret)
DEFAULT_DAYS = 90
MAX_DAYS = 366  # a token that never expires is a token nobody remembers to revoke
# Noting each use would make every read a write; a minute is as precise as "last used" needs.
LAST_USE_PRECISION = timedelta(minutes=1)
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="borne", error="invalid_token"'}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _may_manage(actor: audit.Actor, owner: User) -> None:
    """Own tokens are one's own business; others' are for those who manage users (or the CLI)."""
    if isinstance(actor, str) or actor.id == owner.id:
        return
    access.require(actor, Action.MANAGE_USERS)


def create_token(
    session: Session,
    actor: audit.Actor,
    owner: User,
    *,
    name: str,
    days: int = DEFAULT_DAYS,
    read_only: bool = False,
) -> tuple[ApiToken, str]:
    """A new token for ``owner`` and its secret, which is shown this once and never again."""
    _may_manage(actor, owner)
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise DomainError(_("give the token a name of 1 to 80 characters (what will use it)"))
    if not 1 <= days <= MAX_DAYS:
        raise DomainError(_("a token lasts 1 to %(days)s days", days=MAX_DAYS))
    if not owner.active:
        raise DomainError(
            _("%(name)s's account is disabled: it cannot have tokens", name=owner.username)
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=owner,
        name=name,
        secret_hash=_digest(secret),
        hint=secret[: len(TOKEN_PREFIX) + 4],
        read_only=read_only,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    kind = "read-only token" if read_only else "token"
    audit.record(
        session,
        actor,
        "api_token.create",
        "api_token",
        token.id,
        f"{kind} {name!r} for {owner.username}, until {token.expires_at:%Y-%m-%d}",
        owner=owner.username,
        read_only=read_only,
        expires_at=token.expires_at.isoformat(),
    )
    return token, secret


def tokens_of(session: Session, actor: audit.Actor, owner: User) -> list[ApiToken]:
    """``owner``'s tokens, the newest first, revoked and expired ones included (their history)."""
    _may_manage(actor, owner)
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == owner.id).order_by(ApiToken.id.desc())
        )
    )


def find_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(_("no API token %(id)s", id=token_id))
    return token


def revoke_token(session: Session, actor: audit.Actor, token: ApiToken) -> ApiToken:
    """Refuse ``token`` from now on. Revoking a revoked token changes nothing."""
    try:
        _may_manage(actor, token.user)
    except PermissionDenied:
        raise NotFound(_("no API token %(id)s", id=token.id)) from None  # others' are not shown
    if token.revoked_at is not None:
        return token
    token.revoked_at = utcnow()
    audit.record(
        session,
        actor,
        "api_token.revoke",
        "api_token",
        token.id,
        f"token {token.name!r} of {token.user.username} revoked",
        owner=token.user.username,
    )
    return token


def state(token: ApiToken, now: datetime | None = None) -> str:
    """ "active", "expired" or "revoked", for people and for the checks."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def authenticate_token(session: Session, presented: str) -> ApiToken:
    """The token behind ``presented``, if it may be used now; 401 otherwise, saying why only
    in words that help its holder (an unknown token and a wrong one read the same)."""
    token = session.scalar(select(ApiToken).where(ApiToken.secret_hash == _digest(presented)))
    # The lookup is by digest, so the comparison below only keeps timing flat for the record.
    if token is None or not hmac.compare_digest(token.secret_hash, _digest(presented)):
        raise Unauthenticated("unknown API token", code="invalid_token", headers=_BEARER_CHALLENGE)
    now = utcnow()
    if state(token, now) != "active":
        raise Unauthenticated(
            f"this API token is {state(token, now)}",
            code="invalid_token",
            headers=_BEARER_CHALLENGE,
        )
    if not token.user.active:
        raise Unauthenticated(
            "the account of this API token is disabled",
            code="invalid_token",
            headers=_BEARER_CHALLENGE,
        )
    return token


def use_to_note(token: ApiToken) -> bool:
    """Whether this use of ``token`` should be written down: at most once a minute."""
    last = token.last_used_at
    return last is None or utcnow() - last >= LAST_USE_PRECISION


def note_use(session: Session, token: ApiToken) -> None:
    """Record that ``token`` was used now."""
    session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=utcnow()))
