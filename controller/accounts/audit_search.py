"""The audit log as staff read it: filtered, paginated, exported; each reader sees only what
concerns the places they cover (the scope is checked here, never in the page)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import Select, String, and_, cast, or_, select
from sqlalchemy.orm import Session

from controller import access
from controller.access import Action
from controller.accounts.models import User
from controller.audit import AuditLog
from controller.fleet.models import Device
from controller.places import service as places
from controller.places.models import Site

SIGN_INS = ("user.login", "user.logout", "user.login_failed")
SIGN_INS_FAMILY = "user.log"


@dataclass(frozen=True)
class AuditFilter:
    """What to keep of the audit log; empty fields keep everything."""

    actor: str = ""  # exact username, or "cli" / "system" / "device"
    action: str = ""  # an action or its beginning: "command" keeps command.issue, .result …
    target_id: str = ""
    since: date | None = None  # day, included, in ``zone``
    until: date | None = None  # day, included, in ``zone``
    sign_ins: bool = False  # signing in and out are many and rarely asked for: kept if asked
    zone: tzinfo = UTC

    def as_query(self) -> dict[str, str]:
        """The filter as URL query arguments (for links to other pages and to the CSV)."""
        fields = {
            "actor": self.actor,
            "action": self.action,
            "target_id": self.target_id,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "sign_ins": "y" if self.sign_ins else "",
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
        site_ids = places.visible_sites_query(user).with_only_columns(Site.id)
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
    if not filters.sign_ins and not filters.action.startswith(SIGN_INS_FAMILY):
        query = query.where(AuditLog.action.not_in(SIGN_INS))
    if filters.target_id:
        query = query.where(AuditLog.target_id == filters.target_id.strip())
    if filters.since:
        query = query.where(AuditLog.at >= datetime.combine(filters.since, time(), filters.zone))
    if filters.until:
        next_day = datetime.combine(filters.until + timedelta(days=1), time(), filters.zone)
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


def actors(session: Session, user: User) -> list[str]:
    """Who appears in the log ``user`` may read, for the "who" filter: people, then the rest."""
    query = _audit_query(user, AuditFilter(sign_ins=True)).order_by(None)
    names = session.scalars(query.with_only_columns(AuditLog.actor).distinct())
    return sorted(names, key=lambda name: (name in ("cli", "system", "schedule", "device"), name))


def audit_entries(
    session: Session, user: User, filters: AuditFilter, batch: int = 500
) -> Iterator[AuditLog]:
    """Every entry the user may read that ``filters`` keep, newest first, fetched by batches
    (for exports: the whole log never sits in memory)."""
    query = _audit_query(user, filters)  # checks the user's right now, not at the first row
    return iter(session.scalars(query.execution_options(yield_per=batch)))
