"""Who may do what, where: roles and scopes, enforced by the domain functions themselves.

An admin (city IT) acts city-wide. Every other role covers the organisations and sites listed in
its scopes: covering an organisation covers all of its sites.

The rules read accounts and places through the small protocols below, so that every domain can
ask them without the kernel knowing the domains' tables; the queries of the sites a person covers
are the places domain's (``controller.places.service.visible_sites_query``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from agent.protocol import CommandName
from controller.errors import PermissionDenied
from controller.i18n import _, _l


class Role(enum.StrEnum):
    ADMIN = "admin"  # city IT: everything, city-wide
    TECHNICIAN = "technician"  # enrols and repairs devices of the organisations they cover
    MEDIATOR = "mediator"  # resets public PCs of their sites
    MANAGER = "manager"  # reads usage of their organisations, acts on nothing


class Action(enum.StrEnum):
    """What a staff member may be allowed to do; :data:`ALLOWED` says which role may."""

    VIEW_FLEET = "view_fleet"
    ENROL_DEVICE = "enrol_device"
    MANAGE_USERS = "manage_users"
    MANAGE_PLACES = "manage_places"
    VIEW_AUDIT = "view_audit"
    SEND_COMMANDS = "send_commands"  # which commands, on which sites: may_command
    VIEW_STATISTICS = "view_statistics"  # how the places are used, to decide where to invest


class Scope(Protocol):
    """One organisation or one site a member of staff covers."""

    @property
    def organisation_id(self) -> int | None: ...
    @property
    def site_id(self) -> int | None: ...


class StaffMember(Protocol):
    """A member of staff as the rules read it (``controller.accounts.models.User``)."""

    @property
    def id(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def scopes(self) -> Sequence[Scope]: ...


class Place(Protocol):
    """A site as the rules read it (``controller.places.models.Site``)."""

    @property
    def id(self) -> int: ...
    @property
    def organisation_id(self) -> int: ...
    @property
    def name(self) -> str: ...


# Each role as people call it, in the reader's language.
ROLE_NAMES = {
    Role.ADMIN: _l("Admin"),
    Role.TECHNICIAN: _l("Technician"),
    Role.MEDIATOR: _l("Mediator"),
    Role.MANAGER: _l("Manager"),
}


def role_word(role: str) -> str:
    """A role within a sentence: "mediator", "médiateur·rice"."""
    return str(ROLE_NAMES[Role(role)]).lower()


# What each action is, in the words of a refusal ("your role may not manage users").
ACTION_WORDS = {
    Action.VIEW_FLEET: _l("see the fleet"),
    Action.ENROL_DEVICE: _l("enrol devices"),
    Action.MANAGE_USERS: _l("manage users"),
    Action.MANAGE_PLACES: _l("manage places"),
    Action.VIEW_AUDIT: _l("read the audit log"),
    Action.SEND_COMMANDS: _l("send commands"),
    Action.VIEW_STATISTICS: _l("read the statistics"),
}

ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.TECHNICIAN: frozenset(
        {Action.VIEW_FLEET, Action.ENROL_DEVICE, Action.VIEW_AUDIT, Action.SEND_COMMANDS}
    ),
    Role.MEDIATOR: frozenset({Action.VIEW_FLEET, Action.SEND_COMMANDS}),
    Role.MANAGER: frozenset({Action.VIEW_FLEET, Action.VIEW_STATISTICS}),
}


def can(user: StaffMember, action: Action) -> bool:
    """Whether the role allows ``action`` somewhere (scopes are checked separately)."""
    return user.active and action in ALLOWED[Role(user.role)]


def is_city_wide(user: StaffMember) -> bool:
    return Role(user.role) is Role.ADMIN


def covered_ids(user: StaffMember) -> tuple[list[int], list[int]]:
    """The organisation ids and the site ids in ``user``'s scopes."""
    org_ids = [s.organisation_id for s in user.scopes if s.organisation_id is not None]
    site_ids = [s.site_id for s in user.scopes if s.site_id is not None]
    return org_ids, site_ids


def covers_site(user: StaffMember, site: Place) -> bool:
    if is_city_wide(user):
        return True
    return any(
        scope.site_id == site.id or scope.organisation_id == site.organisation_id
        for scope in user.scopes
    )


def require(user: StaffMember, action: Action, site: Place | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``user`` may do ``action`` (on ``site``)."""
    if not can(user, action):
        raise PermissionDenied(
            _(
                "a %(role)s may not %(action)s",
                role=role_word(user.role),
                action=ACTION_WORDS[action],
            )
        )
    if site is not None and not covers_site(user, site):
        raise PermissionDenied(_("%(site)s is outside the places you cover", site=site.name))


# What a mediator may do to a device of their sites: help the resident in front of it.
MEDIATOR_COMMANDS = frozenset(
    {
        CommandName.RESET_SESSION,
        CommandName.LOCK_SCREEN,
        CommandName.UNLOCK_SCREEN,
        CommandName.SHOW_MESSAGE,
        CommandName.EXTEND_SESSION,
    }
)


def may_command(user: StaffMember, name: CommandName, site: Place) -> bool:
    """Whether ``user`` may send command ``name`` to a device of ``site``.

    Admins and technicians may send every command to the places they cover; mediators the four
    of :data:`MEDIATOR_COMMANDS`, to their own sites; managers none.
    """
    if not can(user, Action.SEND_COMMANDS) or not covers_site(user, site):
        return False
    return Role(user.role) is not Role.MEDIATOR or name in MEDIATOR_COMMANDS


def require_command(user: StaffMember, name: CommandName, site: Place) -> None:
    if not may_command(user, name, site):
        if not covers_site(user, site):
            raise PermissionDenied(_("%(site)s is outside the places you cover", site=site.name))
        raise PermissionDenied(
            _(
                "a %(role)s may not send %(command)s",
                role=role_word(user.role),
                command=repr(name.value),
            )
        )
