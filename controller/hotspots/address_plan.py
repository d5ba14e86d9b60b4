"""The city's address plan for wifi hotspots: each hotspot's client network cut from one private
range (settings ``hotspot_supernet`` and ``hotspot_subnet_prefixlen``) with netaddr, none
overlapping another, so that hotspots sharing the city's backbone never hand out the same
addresses and a route to one client network never catches another's.

A hotspot gets the first free subnet of the plan's size when it is enrolled (or when the plan is
filled in for hotspots enrolled before it existed); city IT may choose another, of any size from
a /29 to the whole range, which is checked against every other hotspot's before it is kept. The
hotspot's portal is configured from it (:func:`portal_network`: what ``borne portal render``
needs), through the Ansible inventory (host variables) or the API.
"""

from __future__ import annotations

from dataclasses import dataclass

import netaddr
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.protocol import DeviceKind
from controller import access, audit
from controller.errors import Conflict, DomainError, PermissionDenied
from controller.fleet.models import Device
from controller.hotspots.models import HotspotSubnet
from controller.i18n import _

# The smallest client network a portal accepts (captive_portal/settings.py: /29 at most).
SMALLEST_PREFIXLEN = 29
# Two processes enrolling hotspots at once may pick the same free subnet; the unique index
# refuses the second, which then looks again. More tries than that means something else is wrong.
ALLOCATION_TRIES = 5


@dataclass(frozen=True)
class AddressPlan:
    """The range hotspots' client networks are cut from, and the size of each."""

    supernet: netaddr.IPNetwork
    prefixlen: int

    @classmethod
    def from_settings(cls, supernet: str, prefixlen: int) -> AddressPlan:
        # The settings were checked at start (controller/config.py).
        return cls(netaddr.IPNetwork(supernet), prefixlen)


@dataclass(frozen=True)
class PlannedHotspot:
    device_id: str
    device_name: str
    site_name: str
    subnet: str
    chosen: bool


def parse_subnet(text: str) -> netaddr.IPNetwork:
    """``text`` as an IPv4 network (its first address, then the prefix length), or a
    :class:`DomainError` saying what a person should type instead."""
    text = text.strip()
    try:
        network = netaddr.IPNetwork(text, version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise DomainError(
            _("%(subnet)s is not an IPv4 network such as 10.64.4.0/22", subnet=repr(text)),
            code="bad_subnet",
        ) from None
    if "/" not in text:
        raise DomainError(
            _(
                "%(subnet)s has no prefix length: write it as %(example)s",
                subnet=repr(text),
                example=f"{text}/22",
            ),
            code="bad_subnet",
        )
    if network.ip != network.network:
        raise DomainError(
            _(
                "%(subnet)s is not the start of a network: did you mean %(network)s?",
                subnet=text,
                network=str(network.cidr),
            ),
            code="bad_subnet",
        )
    return network.cidr


def subnet_of(session: Session, device: Device) -> HotspotSubnet | None:
    return session.get(HotspotSubnet, device.id)


def allocate(session: Session, device: Device, plan: AddressPlan) -> HotspotSubnet:
    """The hotspot's client network: the one it has, or the first free one of the plan's size.

    Raises :class:`Conflict` when the range is full (a message naming the setting to widen)."""
    _require_hotspot(device)
    _release_retired(session)
    for _attempt in range(ALLOCATION_TRIES):
        existing = subnet_of(session, device)
        if existing is not None:
            return existing
        free = _first_free(session, plan)
        try:
            with session.begin_nested():
                row = HotspotSubnet(device_id=device.id, subnet=str(free), chosen=False)
                session.add(row)
                session.flush()
            return row
        except IntegrityError:
            continue  # another process took it (or gave this hotspot one): look again
    raise Conflict(_("the address plan keeps changing under this allocation: try again"))


def allocate_missing(session: Session, plan: AddressPlan) -> list[HotspotSubnet]:
    """Give a client network to every hotspot without one (those enrolled before the plan)."""
    planned = select(HotspotSubnet.device_id)
    hotspots = session.scalars(
        select(Device)
        .where(
            Device.kind == DeviceKind.HOTSPOT,
            Device.retired_at.is_(None),
            Device.id.not_in(planned),
        )
        .order_by(Device.enrolled_at, Device.id)
    )
    return [allocate(session, device, plan) for device in hotspots]


def choose(
    session: Session, actor: audit.Actor, device: Device, text: str, plan: AddressPlan
) -> HotspotSubnet:
    """Give a hotspot the client network a person chose, after checking it is inside the range,
    large enough for a portal and overlaps no other hotspot's (named in the error). Audited.

    Staff must be city-wide admins; the command line (``actor`` a string) already holds the
    database, so it is city IT."""
    _require_hotspot(device)
    if not isinstance(actor, str) and not access.is_city_wide(actor):
        raise PermissionDenied(_("only city IT (an administrator) changes the address plan"))
    network = parse_subnet(text)
    _release_retired(session)
    if network not in plan.supernet:
        raise DomainError(
            _(
                "%(subnet)s is outside the hotspots' range %(supernet)s (setting hotspot_supernet)",
                subnet=str(network),
                supernet=str(plan.supernet),
            ),
            code="outside_plan",
        )
    if network.prefixlen > SMALLEST_PREFIXLEN:
        raise DomainError(
            _(
                "%(subnet)s is too small for a wifi portal: /%(most)d at most",
                subnet=str(network),
                most=SMALLEST_PREFIXLEN,
            ),
            code="too_small",
        )
    for other, other_network in _taken(session, except_device=device.id):
        if network in other_network or other_network in network:
            raise Conflict(
                _(
                    "%(subnet)s overlaps %(other_subnet)s, the client network of %(device)s",
                    subnet=str(network),
                    other_subnet=str(other_network),
                    device=other,
                )
            )
    row = subnet_of(session, device)
    before = row.subnet if row is not None else None
    if row is None:
        row = HotspotSubnet(device_id=device.id, subnet=str(network), chosen=True)
        session.add(row)
    else:
        row.subnet, row.chosen = str(network), True
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            _("%(subnet)s was just given to another hotspot", subnet=str(network))
        ) from None
    audit.record(
        session,
        actor,
        "hotspot.subnet",
        "device",
        device.id,
        f"client network of {device.name}: {network}",
        before=before,
        after=str(network),
    )
    return row


def plan_table(session: Session) -> list[PlannedHotspot]:
    """Every hotspot's client network, in address order (the plan as city IT reads it)."""
    rows = session.execute(
        select(HotspotSubnet, Device).join(Device, Device.id == HotspotSubnet.device_id)
    ).all()
    planned = [
        PlannedHotspot(device.id, device.name, device.site.name, row.subnet, row.chosen)
        for row, device in rows
    ]
    return sorted(planned, key=lambda p: netaddr.IPNetwork(p.subnet))


def portal_network(subnet: str) -> dict[str, str]:
    """The portal settings (captive_portal/settings.py) a hotspot takes from its client
    network: the subnet, and the portal's own address on it (the first host: the gateway)."""
    network = netaddr.IPNetwork(subnet)
    return {"client_subnet": str(network.cidr), "listen_address": str(network[1])}


def _first_free(session: Session, plan: AddressPlan) -> netaddr.IPNetwork:
    taken = netaddr.IPSet(network for _name, network in _taken(session))
    for candidate in plan.supernet.subnet(plan.prefixlen):
        if not taken & netaddr.IPSet([candidate]):
            return candidate
    raise Conflict(
        _(
            "no free /%(prefixlen)d is left in %(supernet)s for another hotspot: widen the "
            "setting hotspot_supernet or make hotspot_subnet_prefixlen larger",
            prefixlen=plan.prefixlen,
            supernet=str(plan.supernet),
        )
    )


def _taken(
    session: Session, *, except_device: str | None = None
) -> list[tuple[str, netaddr.IPNetwork]]:
    query = select(Device.name, HotspotSubnet.subnet).join(
        Device, Device.id == HotspotSubnet.device_id
    )
    if except_device is not None:
        query = query.where(HotspotSubnet.device_id != except_device)
    return [(name, netaddr.IPNetwork(subnet)) for name, subnet in session.execute(query)]


def _release_retired(session: Session) -> None:
    """A retired hotspot's client network goes back to the plan (its history stays)."""
    retired = select(Device.id).where(Device.retired_at.is_not(None))
    session.execute(delete(HotspotSubnet).where(HotspotSubnet.device_id.in_(retired)))


def _require_hotspot(device: Device) -> None:
    if device.kind != DeviceKind.HOTSPOT:
        raise DomainError(
            _(
                "%(device)s is not a wifi hotspot: only a hotspot has a client network",
                device=device.name,
            ),
            code="not_a_hotspot",
        )
