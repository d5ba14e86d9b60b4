"""Who may do what, where: roles and scopes, enforced by the domain functions themselves.

An admin (city IT) acts city-wide. Every other role covers the organisations and sites listed in
its scopes: covering an organisation covers all of its sites.
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from controller.choices import Action, CommandName, Role
from controller.errors import PermissionDenied
from controller.models import Site, User

ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.TECHNICIAN: frozenset(
        {Action.VIEW_FLEET, Action.ENROL_DEVICE, Action.VIEW_AUDIT, Action.SEND_COMMANDS}
    ),
    Role.MEDIATOR: frozenset({Action.VIEW_FLEET, Action.SEND_COMMANDS}),
    Role.MANAGER: frozenset({Action.VIEW_FLEET}),
}


def can(user: User, action: Action) -> bool:
    """Whether the role allows ``action`` somewhere (scopes are checked separately)."""
    return user.active and action in ALLOWED[Role(user.role)]


def is_city_wide(user: User) -> bool:
    return Role(user.role) is Role.ADMIN


def visible_sites_query(user: User) -> Select[tuple[Site]]:
    """Sites the user covers, as a query to refine."""
    query = select(Site)
    if is_city_wide(user):
        return query
    org_ids = [s.organisation_id for s in user.scopes if s.organisation_id is not None]
    site_ids = [s.site_id for s in user.scopes if s.site_id is not None]
    if not org_ids and not site_ids:
        return query.where(Site.id.is_(None))  # covers nothing
    return query.where(or_(Site.organisation_id.in_(org_ids), Site.id.in_(site_ids)))


def visible_site_ids(session: Session, user: User) -> set[int]:
    subquery = visible_sites_query(user).with_only_columns(Site.id)
    return set(session.scalars(subquery))


def covers_site(user: User, site: Site) -> bool:
    if is_city_wide(user):
        return True
    return any(
        scope.site_id == site.id or scope.organisation_id == site.organisation_id
        for scope in user.scopes
    )


def require(user: User, action: Action, site: Site | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``user`` may do ``action`` (on ``site``)."""
    if not can(user, action):
        raise PermissionDenied(f"a {user.role} may not {action.value.replace('_', ' ')}")
    if site is not None and not covers_site(user, site):
        raise PermissionDenied(f"{site.name} is outside the places you cover")


# What a mediator may do to a device of their sites: help the resident in front of it.
MEDIATOR_COMMANDS = frozenset(
    {
        CommandName.RESET_SESSION,
        CommandName.LOCK_SCREEN,
        CommandName.UNLOCK_SCREEN,
        CommandName.SHOW_MESSAGE,
    }
)


def may_command(user: User, name: CommandName, site: Site) -> bool:
    """Whether ``user`` may send command ``name`` to a device of ``site``.

    Admins and technicians may send every command to the places they cover; mediators the four
    of :data:`MEDIATOR_COMMANDS`, to their own sites; managers none.
    """
    if not can(user, Action.SEND_COMMANDS) or not covers_site(user, site):
        return False
    return Role(user.role) is not Role.MEDIATOR or name in MEDIATOR_COMMANDS


def require_command(user: User, name: CommandName, site: Site) -> None:
    if not may_command(user, name, site):
        if not covers_site(user, site):
            raise PermissionDenied(f"{site.name} is outside the places you cover")
        raise PermissionDenied(f"a {user.role} may not send '{name.value}'")
