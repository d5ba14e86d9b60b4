"""What the staff pages read and record beyond the fleet: sign-ins, users, tokens, the audit log.

Each function checks the caller's role and scopes itself (:mod:`controller.access`), so a page or
an API that forgets a check still shows nothing it should not.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import Session, selectinload

from controller import access, audit, fleet
from controller.choices import Action
from controller.models import AuditLog, Device, EnrolmentToken, Organisation, Site, User


def record_login(session: Session, user: User) -> None:
    """Note a successful sign-in in the audit log (failed ones are not attributed to anyone)."""
    audit.record(session, user, "user.login", "user", user.id, f"{user.username} signed in")


def record_logout(session: Session, user: User) -> None:
    audit.record(session, user, "user.logout", "user", user.id, f"{user.username} signed out")


@dataclass(frozen=True)
class OrganisationOverview:
    organisation: Organisation
    sites: list[fleet.SiteSummary]


def fleet_overview(session: Session, user: User) -> list[OrganisationOverview]:
    """The sites the user covers, grouped by organisation, with device counts by status."""
    summaries = fleet.list_sites(session, user)  # already ordered by organisation, then site
    return [
        OrganisationOverview(organisation, list(sites))
        for organisation, sites in groupby(summaries, key=lambda s: s.site.organisation)
    ]


def enrolment_sites(session: Session, user: User) -> list[Site]:
    """Sites where ``user`` may enrol devices (none if the role may not enrol)."""
    if not access.can(user, Action.ENROL_DEVICE):
        return []
    query = access.visible_sites_query(user).join(Organisation)
    return list(session.scalars(query.order_by(Organisation.name, Site.name)))


def recent_tokens(session: Session, user: User, limit: int = 50) -> list[EnrolmentToken]:
    """Enrolment tokens of the sites the user covers, newest first. Only hashes are stored."""
    access.require(user, Action.ENROL_DEVICE)
    visible = access.visible_sites_query(user).with_only_columns(Site.id)
    query = (
        select(EnrolmentToken)
        .where(EnrolmentToken.site_id.in_(visible))
        .options(selectinload(EnrolmentToken.site))
        .order_by(EnrolmentToken.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


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


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditLog]
    page: int
    has_next: bool


def audit_page(session: Session, user: User, page: int = 1, per_page: int = 50) -> AuditPage:
    """One page of the audit log, newest first.

    City-wide roles see everything; others see what they did themselves and what was done to the
    sites they cover, to devices of those sites, and to their own account.
    """
    access.require(user, Action.VIEW_AUDIT)
    page = max(page, 1)
    query = select(AuditLog)
    if not access.is_city_wide(user):
        site_ids = access.visible_sites_query(user).with_only_columns(Site.id)
        # Audit target ids are strings; compare on the string form of the site id.
        site_id_texts = select(cast(Site.id, String)).where(Site.id.in_(site_ids))
        device_ids = select(Device.id).where(Device.site_id.in_(site_ids))
        query = query.where(
            or_(
                AuditLog.actor_id == user.id,
                and_(AuditLog.target_type == "site", AuditLog.target_id.in_(site_id_texts)),
                and_(AuditLog.target_type == "device", AuditLog.target_id.in_(device_ids)),
                and_(AuditLog.target_type == "user", AuditLog.target_id == str(user.id)),
            )
        )
    rows = list(
        session.scalars(
            query.order_by(AuditLog.id.desc()).offset((page - 1) * per_page).limit(per_page + 1)
        )
    )
    return AuditPage(rows[:per_page], page, has_next=len(rows) > per_page)
