"""Organisations and their public places (sites): look-ups, who covers which, closures."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from controller import access, audit, signals
from controller.access import Action, StaffMember
from controller.errors import DomainError, NotFound
from controller.i18n import _
from controller.places.models import Organisation, Site, SiteClosure
from controller.places.open_data_fields import OpenDataFields, check_fields
from controller.places.opening_hours import validate_opening_hours


def visible_sites_query(user: StaffMember) -> Select[tuple[Site]]:
    """Sites the user covers, as a query to refine."""
    query = select(Site)
    if access.is_city_wide(user):
        return query
    org_ids, site_ids = access.covered_ids(user)
    if not org_ids and not site_ids:
        return query.where(Site.id.is_(None))  # covers nothing
    return query.where(or_(Site.organisation_id.in_(org_ids), Site.id.in_(site_ids)))


def visible_site_ids(session: Session, user: StaffMember) -> set[int]:
    subquery = visible_sites_query(user).with_only_columns(Site.id)
    return set(session.scalars(subquery))


def get_site(session: Session, user: StaffMember, site_id: int) -> Site:
    """A site the user may see; 404 or 403 otherwise."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(_("no site %(site)s", site=site_id))
    access.require(user, Action.VIEW_FLEET, site)
    return site


def find_organisation(session: Session, ref: str | int) -> Organisation:
    """An organisation by id or exact name."""
    text = str(ref).strip()
    query = select(Organisation)
    query = (
        query.where(Organisation.id == int(text))
        if text.isdigit()
        else query.where(Organisation.name == text)
    )
    found = session.scalar(query)
    if found is None:
        raise NotFound(_("no organisation %(ref)s", ref=repr(ref)))
    return found


def find_site(session: Session, ref: str | int) -> Site:
    """A site by id or slug."""
    text = str(ref).strip()
    query = select(Site)
    query = query.where(Site.id == int(text)) if text.isdigit() else query.where(Site.slug == text)
    found = session.scalar(query)
    if found is None:
        raise NotFound(_("no site %(site)s", site=repr(ref)))
    return found


def add_closure(
    session: Session,
    actor: audit.Actor,
    site: Site,
    starts_on: date,
    ends_on: date,
    reason: str = "",
) -> SiteClosure:
    """Record that ``site`` is closed from ``starts_on`` to ``ends_on`` (inclusive)."""
    if not isinstance(actor, str):
        access.require(actor, Action.MANAGE_PLACES, site)
    if ends_on < starts_on:
        raise DomainError(
            _(
                "a closure cannot end (%(last)s) before it starts (%(first)s)",
                last=ends_on.isoformat(),
                first=starts_on.isoformat(),
            )
        )
    if (ends_on - starts_on).days > 366:
        raise DomainError(_("a closure lasts at most a year"))
    record = SiteClosure(
        site_id=site.id, starts_on=starts_on, ends_on=ends_on, reason=reason.strip()[:200]
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "site.closure",
        "site",
        site.id,
        f"{site.name} closed {starts_on} to {ends_on}",
        reason=record.reason,
    )
    return record


def set_opening_hours(session: Session, actor: audit.Actor, site: Site, expression: str) -> bool:
    """Give ``site`` new opening hours (OpenStreetMap syntax; empty: none given). The schedule
    of its PCs follows from the next planning; the devices that keep the hours themselves (a
    kiosk's closing time) hear ``signals.site_hours_changed`` once it is committed. Whether
    anything changed."""
    if not isinstance(actor, str):
        access.require(actor, Action.MANAGE_PLACES, site)
    expression = " ".join(expression.split())
    validate_opening_hours(expression)
    if expression == (site.opening_hours or ""):
        return False
    before = site.opening_hours
    site.opening_hours = expression
    audit.record(
        session,
        actor,
        "site.hours",
        "site",
        site.id,
        f"opening hours of {site.name}: {expression or 'none'}",
        before=before,
        after=expression,
    )
    signals.send_after_commit(
        session, signals.site_hours_changed, str(site.id), site_id=site.id, hours=expression
    )
    return True


def list_closures(
    session: Session, site: Site | None = None, upcoming_from: date | None = None
) -> list[SiteClosure]:
    """Closures by first day; ``upcoming_from`` leaves out those already over by then."""
    query = select(SiteClosure).order_by(SiteClosure.starts_on)
    if site is not None:
        query = query.where(SiteClosure.site_id == site.id)
    if upcoming_from is not None:
        query = query.where(SiteClosure.ends_on >= upcoming_from)
    return list(session.scalars(query))


def set_open_data(
    session: Session, actor: audit.Actor, site: Site, typed: OpenDataFields, *, today: date
) -> list[str]:
    """Give ``site`` its fields of the national open-data schema, checked and tidied
    (:class:`~controller.places.open_data_fields.InvalidFields` names each one refused).

    Saving is an admin's word that the data is current: the update date the export publishes
    (``date_maj``) becomes ``today`` (the city's) even when no field changed. The names of the
    fields that changed."""
    if not isinstance(actor, str):
        access.require(actor, Action.MANAGE_PLACES, site)
    tidy = check_fields(typed)
    before = OpenDataFields.of(site)
    changed = [f.name for f in fields(tidy) if getattr(tidy, f.name) != getattr(before, f.name)]
    if not changed and site.data_updated_on == today:
        return []
    for name in changed:
        setattr(site, name, getattr(tidy, name))
    site.data_updated_on = today
    audit.record(
        session,
        actor,
        "site.open_data",
        "site",
        site.id,
        f"open data of {site.name}: " + (", ".join(changed) or "confirmed as current"),
        before={name: getattr(before, name) for name in changed},
        after={name: getattr(tidy, name) for name in changed},
    )
    return changed
