"""The fleet as staff see it: organisations, sites and devices within their scope; naming a
device and moving it to another site."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, undefer

from agent.protocol import DeviceKind
from controller import access, audit, signals
from controller.access import Action, StaffMember
from controller.errors import Conflict, DomainError, NotFound
from controller.fleet.condition import Concern, ConcernFinder, DeviceCondition, device_conditions
from controller.fleet.models import Device, DeviceStatus
from controller.i18n import _
from controller.places import service as places
from controller.places.models import Organisation, Site

NAME_MAX = 200


@dataclass(frozen=True)
class SiteSummary:
    site: Site
    counts: dict[DeviceStatus, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def list_sites(session: Session, user: StaffMember) -> list[SiteSummary]:
    """Sites the user covers, by organisation then name, with counts of devices in service by
    status (retired ones are not counted)."""
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
        .where(Device.site_id.in_(counts), Device.retired_at.is_(None))
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


class DeviceSort(enum.StrEnum):
    NAME = "name"
    SITE = "site"
    KIND = "kind"
    LAST_SEEN = "last_seen"  # most recent first, never seen last
    STATUS = "status"  # what needs looking at first: flagged, offline, new, online


@dataclass(frozen=True)
class DeviceFilter:
    """Which devices a list shows, and in what order. Empty: every device in service."""

    search: str = ""  # in the name or the host name, whatever the case
    site_id: int | None = None
    kind: DeviceKind | None = None
    status: DeviceStatus | None = None
    retired: bool = False  # the retired devices instead of those in service
    concern: Concern | None = None
    any_concern: bool = False  # only devices something is flagged on
    sort: DeviceSort = DeviceSort.NAME


@dataclass(frozen=True)
class DeviceList:
    devices: list[Device]
    conditions: dict[str, DeviceCondition] = field(default_factory=dict)


def list_devices(
    session: Session,
    user: StaffMember,
    site_id: int | None = None,
    *,
    retired: bool = False,
) -> list[Device]:
    """The devices in service (``retired``: the retired ones) of the sites ``user`` covers,
    by site, kind and name."""
    access.require(user, Action.VIEW_FLEET)
    query = (
        select(Device)
        .join(Site)
        .where(Device.site_id.in_(places.visible_sites_query(user).with_only_columns(Site.id)))
        .where(Device.retired_at.is_not(None) if retired else Device.retired_at.is_(None))
        .options(selectinload(Device.site), undefer(Device.metrics), undefer(Device.inventory))
        .order_by(Site.name, Device.kind, Device.name)
    )
    if site_id is not None:
        query = query.where(Device.site_id == site_id)
    return list(session.scalars(query))


def find_devices(
    session: Session,
    user: StaffMember,
    wanted: DeviceFilter,
    finders: Sequence[tuple[Concern, ConcernFinder]] = (),
) -> DeviceList:
    """The devices ``user`` covers that match ``wanted``, in its order, with their condition
    (``finders``: the domains' concerns, :func:`condition.concern_finders`)."""
    devices = list_devices(session, user, wanted.site_id, retired=wanted.retired)
    return filter_devices(DeviceList(devices, device_conditions(session, devices, finders)), wanted)


def filter_devices(found: DeviceList, wanted: DeviceFilter) -> DeviceList:
    """Those of ``found`` that match ``wanted``, in its order."""
    conditions = found.conditions
    devices = [d for d in found.devices if (d.retired_at is not None) == wanted.retired]
    if wanted.site_id is not None:
        devices = [d for d in devices if d.site_id == wanted.site_id]
    if wanted.kind is not None:
        devices = [d for d in devices if d.kind == wanted.kind]
    if wanted.status is not None:
        devices = [d for d in devices if d.status == wanted.status]
    needle = wanted.search.strip().casefold()
    if needle:
        devices = [d for d in devices if needle in _searched_text(d)]
    if wanted.concern is not None:
        devices = [d for d in devices if wanted.concern in conditions[d.id].concerns]
    if wanted.any_concern:
        devices = [d for d in devices if conditions[d.id].concerns]
    devices.sort(key=_sort_key(wanted.sort, conditions))
    return DeviceList(devices, {d.id: conditions[d.id] for d in devices})


def _searched_text(device: Device) -> str:
    hostname = (device.inventory or {}).get("hostname") or ""
    return f"{device.name}\n{hostname}".casefold()


def _sort_key(
    sort: DeviceSort, conditions: dict[str, DeviceCondition]
) -> Callable[[Device], tuple[Any, ...]]:
    def by_name(d: Device) -> tuple[Any, ...]:
        return (d.name.casefold(), d.id)

    if sort is DeviceSort.SITE:
        return lambda d: (d.site.name.casefold(), *by_name(d))
    if sort is DeviceSort.KIND:
        return lambda d: (list(DeviceKind).index(DeviceKind(d.kind)), *by_name(d))
    if sort is DeviceSort.LAST_SEEN:
        return lambda d: (d.last_seen_at is None, -_timestamp(d.last_seen_at), *by_name(d))
    if sort is DeviceSort.STATUS:
        return lambda d: (conditions[d.id].urgency, *by_name(d))
    return by_name


def _timestamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def get_device(session: Session, user: StaffMember, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(_("no device %(id)s", id=device_id))
    access.require(user, Action.VIEW_FLEET, device.site)
    return device


def may_manage(user: StaffMember, device: Device) -> bool:
    """Whether ``user`` may rename, move or retire ``device``, and read its inventory details
    (MAC addresses, kernel): technicians and admins of its site."""
    return access.can(user, Action.ENROL_DEVICE) and access.covers_site(user, device.site)


def rename_device(session: Session, actor: audit.Actor, device: Device, name: str) -> Device:
    """Give ``device`` the name staff call it by; its host name no longer renames it."""
    if not isinstance(actor, str):
        access.require(actor, Action.ENROL_DEVICE, device.site)
    name = " ".join(name.split())
    if not name:
        raise DomainError(_("a device needs a name"))
    if len(name) > NAME_MAX:
        raise DomainError(_("a name is %(max)d characters at most", max=NAME_MAX))
    if name != device.name:
        before, device.name = device.name, name
        audit.record(
            session,
            actor,
            "device.rename",
            "device",
            device.id,
            f"{before} at {device.site.name} renamed {name}",
            before=before,
            after=name,
        )
    return device


def move_device(session: Session, actor: audit.Actor, device: Device, site: Site) -> Device:
    """Move ``device`` to ``site``: both must be places the actor covers. Its history stays
    where it happened; from now on it counts at its new site."""
    if not isinstance(actor, str):
        access.require(actor, Action.ENROL_DEVICE, device.site)
        access.require(actor, Action.ENROL_DEVICE, site)
    if device.retired_at is not None:
        raise Conflict(
            _("%(device)s is retired: a retired device stays where it was", device=device.name)
        )
    if site.id != device.site_id:
        before = device.site
        device.site = site
        session.flush()
        audit.record(
            session,
            actor,
            "device.move",
            "device",
            device.id,
            f"{device.name} moved from {before.name} to {site.name}",
            from_site_id=before.id,
            to_site_id=site.id,
        )
        # What the device keeps of its site (a kiosk's rules and staff PINs) comes from the
        # domains that own it, told once the move is committed.
        signals.send_after_commit(
            session, signals.device_moved, device.id, site_id=site.id, kind=str(device.kind)
        )
    return device
