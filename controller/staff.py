"""What the staff pages read and record beyond the fleet: sign-ins, users, tokens, the audit log,
the commands a page offers.

Each function checks the caller's role and scopes itself (:mod:`controller.access`), so a page or
an API that forgets a check still shows nothing it should not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby

from sqlalchemy import Select, String, and_, cast, or_, select
from sqlalchemy.orm import Session, selectinload

from controller import access, audit, fleet
from controller.choices import Action, CommandName
from controller.commands import SPECS
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


# --- commands a page offers ----------------------------------------------------------------------


@dataclass(frozen=True)
class CommandChoice:
    """A command a page offers as a button: what it sends, its words, what to ask first."""

    name: CommandName
    label: str
    confirm: str  # asked before sending; "" to send at once
    targets: int  # how many devices it goes to


# What a site page offers, in this order, with the words for a whole site.
SITE_COMMANDS: dict[CommandName, str] = {
    CommandName.RESET_SESSION: "Reset all PCs",
    CommandName.LOCK_SCREEN: "Lock all screens",
    CommandName.UNLOCK_SCREEN: "Unlock all screens",
    CommandName.SHOW_MESSAGE: "Message to all screens",
    CommandName.REBOOT: "Restart all",
    CommandName.WAKE: "Wake all PCs",
    CommandName.SHUTDOWN: "Shut down all",
    CommandName.MAINTENANCE: "Install updates",
}


def device_commands(user: User, device: Device) -> list[CommandChoice]:
    """The commands ``user`` may send to ``device``, in the order of :data:`SPECS`."""
    return [
        CommandChoice(name, spec.label, spec.confirm, 1)
        for name, spec in SPECS.items()
        if device.kind in spec.kinds and access.may_command(user, name, device.site)
    ]


def site_commands(user: User, site: Site) -> list[CommandChoice]:
    """The site-wide commands ``user`` may send to ``site``, for those its devices accept.

    Every site-wide command that interrupts residents asks first, locking included: it reaches
    everyone at the place at once.
    """
    choices = []
    for name, label in SITE_COMMANDS.items():
        spec = SPECS[name]
        targets = sum(1 for d in site.devices if d.kind in spec.kinds)
        if not targets or not access.may_command(user, name, site):
            continue
        disruptive = bool(spec.confirm) or name is CommandName.LOCK_SCREEN
        devices = f"{targets} device{'s' if targets > 1 else ''}"
        confirm = f"{label} at {site.name} ({devices}) now?" if disruptive else ""
        choices.append(CommandChoice(name, label, confirm, targets))
    return choices


# --- the audit log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What to keep of the audit log; empty fields keep everything."""

    actor: str = ""  # exact username, or "cli" / "system" / "device"
    action: str = ""  # an action or its beginning: "command" keeps command.issue, .result …
    target_id: str = ""
    since: date | None = None  # UTC day, included
    until: date | None = None  # UTC day, included

    def as_query(self) -> dict[str, str]:
        """The filter as URL query arguments (for links to other pages and to the CSV)."""
        fields = {
            "actor": self.actor,
            "action": self.action,
            "target_id": self.target_id,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in fields.items() if v}


def _audit_query(user: User, filters: AuditFilter) -> Select[tuple[AuditLog]]:
    """The entries ``user`` may read that ``filters`` keep, newest first.

    City-wide roles see everything; others see what they did themselves and what was done to the
    sites they cover, to devices of those sites, and to their own account.
    """
    access.require(user, Action.VIEW_AUDIT)
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
    if filters.actor:
        query = query.where(AuditLog.actor == filters.actor.strip())
    if filters.action:
        action = filters.action.strip()
        family = action.rstrip(".") + "."
        query = query.where(
            or_(AuditLog.action == action, AuditLog.action.startswith(family, autoescape=True))
        )
    if filters.target_id:
        query = query.where(AuditLog.target_id == filters.target_id.strip())
    if filters.since:
        query = query.where(AuditLog.at >= datetime.combine(filters.since, time(), UTC))
    if filters.until:
        next_day = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        query = query.where(AuditLog.at < next_day)
    return query.order_by(AuditLog.id.desc())


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditLog]
    page: int
    has_next: bool


def audit_page(
    session: Session,
    user: User,
    page: int = 1,
    per_page: int = 50,
    filters: AuditFilter | None = None,
) -> AuditPage:
    """One page of the audit log the user may read, newest first (see :func:`_audit_query`)."""
    page = max(page, 1)
    query = _audit_query(user, filters or AuditFilter())
    rows = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
    return AuditPage(rows[:per_page], page, has_next=len(rows) > per_page)


def audit_entries(
    session: Session, user: User, filters: AuditFilter, batch: int = 500
) -> Iterator[AuditLog]:
    """Every entry the user may read that ``filters`` keep, newest first, fetched by batches
    (for exports: the whole log never sits in memory)."""
    query = _audit_query(user, filters)  # checks the user's right now, not at the first row
    return iter(session.scalars(query.execution_options(yield_per=batch)))
