"""Maintenance teams: who repairs the devices of which organisations (city IT sets them up)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent.protocol import DeviceKind
from controller import access, audit
from controller.access import Action, Role
from controller.accounts.models import User
from controller.accounts.service import checked_email
from controller.audit import Actor
from controller.errors import Conflict, DomainError, NotFound
from controller.i18n import _
from controller.maintenance.models import Team, team_members, team_organisations
from controller.places.models import Organisation, Site


def _require_admin(actor: Actor) -> None:
    if not isinstance(actor, str):
        access.require(actor, Action.MANAGE_USERS)


def find_team(session: Session, name_or_id: str | int) -> Team:
    team = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        team = session.get(Team, int(name_or_id))
    if team is None:
        team = session.scalar(select(Team).where(Team.name == str(name_or_id).strip()))
    if team is None:
        raise NotFound(_("no team %(team)s", team=name_or_id))
    return team


def _organisations(session: Session, names: Iterable[str | int]) -> list[Organisation]:
    found = []
    for name in names:
        organisation = None
        if isinstance(name, int) or str(name).isdigit():
            organisation = session.get(Organisation, int(name))
        if organisation is None:
            organisation = session.scalar(
                select(Organisation).where(Organisation.name == str(name).strip())
            )
        if organisation is None:
            raise NotFound(_("no organisation %(organisation)s", organisation=name))
        found.append(organisation)
    return found


def _kinds(kinds: Iterable[str]) -> list[str]:
    known = {kind.value for kind in DeviceKind}
    chosen = sorted({kind.strip() for kind in kinds if kind.strip()})
    unknown = [kind for kind in chosen if kind not in known]
    if unknown:
        raise DomainError(
            _(
                "unknown kind of device %(kind)s (one of %(known)s)",
                kind=", ".join(unknown),
                known=", ".join(sorted(known)),
            )
        )
    return chosen


def create_team(
    session: Session,
    actor: Actor,
    *,
    name: str,
    email: str = "",
    organisations: Iterable[str | int] = (),
    kinds: Iterable[str] = (),
) -> Team:
    """A team serving ``organisations`` (every kind of device unless ``kinds`` names some)."""
    _require_admin(actor)
    name = name.strip()
    if not 2 <= len(name) <= 100:
        raise DomainError(_("a team's name is 2 to 100 characters"))
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(_("there is already a team %(team)s", team=name))
    team = Team(name=name, email=checked_email(email), kinds=_kinds(kinds))
    team.organisations = _organisations(session, organisations)
    session.add(team)
    session.flush()
    audit.record(
        session,
        actor,
        "team.create",
        "team",
        team.id,
        name,
        organisations=[o.name for o in team.organisations],
        kinds=team.kinds,
    )
    return team


def serve(session: Session, actor: Actor, team: Team, organisations: Iterable[str | int]) -> Team:
    """Replace the organisations ``team`` serves."""
    _require_admin(actor)
    team.organisations = _organisations(session, organisations)
    audit.record(
        session,
        actor,
        "team.serve",
        "team",
        team.id,
        team.name,
        organisations=[o.name for o in team.organisations],
    )
    return team


def add_member(session: Session, actor: Actor, team: Team, user: User) -> Team:
    """Make ``user`` (a technician or an admin) a member of ``team``."""
    _require_admin(actor)
    if Role(user.role) not in (Role.TECHNICIAN, Role.ADMIN):
        raise DomainError(
            _("%(user)s is not a technician: only technicians repair", user=user.username)
        )
    if user not in team.members:
        team.members.append(user)
        audit.record(session, actor, "team.member_add", "team", team.id, user.username)
    return team


def remove_member(session: Session, actor: Actor, team: Team, user: User) -> Team:
    _require_admin(actor)
    if user in team.members:
        team.members.remove(user)
        audit.record(session, actor, "team.member_remove", "team", team.id, user.username)
    return team


def list_teams(session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.name)).all()


def visible_teams(session: Session, user: User) -> Sequence[Team]:
    """City IT sees every team; others the teams they belong to and those serving the
    organisations of the places they cover (who repairs for them)."""
    if access.is_city_wide(user):
        return list_teams(session)
    org_ids, site_ids = access.covered_ids(user)
    covered = select(Site.organisation_id).where(
        or_(Site.organisation_id.in_(org_ids), Site.id.in_(site_ids))
    )
    serving = select(team_organisations.c.team_id).where(
        team_organisations.c.organisation_id.in_(covered)
    )
    member_of = select(team_members.c.team_id).where(team_members.c.user_id == user.id)
    return session.scalars(
        select(Team).where(or_(Team.id.in_(serving), Team.id.in_(member_of))).order_by(Team.name)
    ).all()
