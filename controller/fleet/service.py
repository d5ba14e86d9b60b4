"""The fleet as staff see it: organisations, sites and devices within their scope."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, undefer

from controller import access
from controller.access import Action, StaffMember
from controller.errors import NotFound
from controller.fleet.models import Device, DeviceStatus
from controller.i18n import _
from controller.places import service as places
from controller.places.models import Organisation, Site


@dataclass(frozen=True)
class SiteSummary:
    site: Site
    counts: dict[DeviceStatus, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def list_sites(session: Session, user: StaffMember) -> list[SiteSummary]:
    """Sites the user covers, by organisation then name, with device counts by status."""
    access.require(user, Action.VIEW_FLEET)
    sites = session.scalars(
        places.visible_sites_query(user)
        .options(selectinload(Site.organisation))
        .join(Organisation)
        .order_by(Organisation.name, Site.name)
    ).all()
    counts: dict[int, dict[DeviceStatus, int]] = {
        s.id: dict.fromkeys(DeviceStatus, 0) for s in sites
    }
    for site_id, status, n in session.execute(
        select(Device.site_id, Device.status, func.count())
        .where(Device.site_id.in_(counts))
        .group_by(Device.site_id, Device.status)
    ):
        counts[site_id][DeviceStatus(status)] = n
    return [SiteSummary(site, counts[site.id]) for site in sites]


@dataclass(frozen=True)
class OrganisationOverview:
    organisation: Organisation
    sites: list[SiteSummary]


def fleet_overview(session: Session, user: StaffMember) -> list[OrganisationOverview]:
    """The sites the user covers, grouped by organisation, with device counts by status."""
    summaries = list_sites(session, user)  # already ordered by organisation, then site
    return [
        OrganisationOverview(organisation, list(sites))
        for organisation, sites in groupby(summaries, key=lambda s: s.site.organisation)
    ]


def list_devices(session: Session, user: StaffMember, site_id: int | None = None) -> list[Device]:
    access.require(user, Action.VIEW_FLEET)
    query = (
        select(Device)
        .join(Site)
        .where(Device.site_id.in_(places.visible_sites_query(user).with_only_columns(Site.id)))
        .options(selectinload(Device.site), undefer(Device.metrics), undefer(Device.inventory))
        .order_by(Site.name, Device.kind, Device.name)
    )
    if site_id is not None:
        query = query.where(Device.site_id == site_id)
    return list(session.scalars(query))


def get_device(session: Session, user: StaffMember, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(_("no device %(id)s", id=device_id))
    access.require(user, Action.VIEW_FLEET, device.site)
    return device
