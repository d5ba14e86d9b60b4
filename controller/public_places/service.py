"""The public places as residents see them, without signing in: which sites are listed, whether
each is open now (and until or from when), what it offers, its live state in aggregates only
("3 of 5 PCs free"), and which are nearest to someone who shares their location.

Nothing here knows HTTP: the pages (``web.py``) and the hotspots' closed page
(``nearby_for_portal``) call it with the session, the instant and the city's schedule policy.
Nothing about any one resident is read or returned: only counts per site.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from agent.protocol import DeviceKind, PortalModeName
from controller.context import settings_of
from controller.errors import DomainError, NotFound
from controller.fleet.models import Device, DeviceStatus
from controller.hotspots.metrics import PORTAL_RUNNING, PORTAL_STATE
from controller.hotspots.models import HotspotPortal
from controller.i18n import _
from controller.lockers import service as lockers
from controller.places.models import Site, SiteClosure
from controller.places.opening_hours import (
    Closure,
    SchedulePolicy,
    next_opening,
    open_intervals,
)
from controller.public_pcs import devices_with_login_locked

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG): distances within a city are off by < 0.5 %
# An opening that lasts past this horizon is "open round the clock" rather than "until …".
ROUND_THE_CLOCK = timedelta(days=7)
PORTAL_NEARBY = 5  # places a hotspot's closed page lists
SESSION_ACTIVE = "active"  # a public PC's heartbeat state while a resident uses it

# What residents look for, as the site's declared services (the national schema's French
# values) say it, besides what its devices show.
ACCOMPANIED_SERVICES = frozenset(
    {
        "Aide aux démarches administratives",
        "Maîtrise des outils numériques du quotidien",
        "Insertion professionnelle via le numérique",
        "Utilisation sécurisée du numérique",
        "Parentalité et éducation avec le numérique",
        "Loisirs et créations numériques",
        "Compréhension du monde numérique",
    }
)
ACCOMPANIED_MODES = frozenset({"Accompagnement individuel", "Dans un atelier collectif"})
FREE_ACCESS_SERVICE = "Accès internet et matériel informatique"


class Offer(StrEnum):
    """What a resident finds at a place, in the order the pages show them."""

    FREE_PCS = "free_pcs"
    ACCOMPANIED = "accompanied"
    WIFI = "wifi"
    CHARGING = "charging"


class HoursState(StrEnum):
    OPEN = "open"  # open now, until ``until``
    ROUND_THE_CLOCK = "round_the_clock"  # open now and for more than a week (24/7)
    CLOSED = "closed"  # closed now; ``opens`` says when it opens next, if within a year
    CLOSURE = "closure"  # closed today for an exceptional closure (works, strike …)
    HOLIDAY = "holiday"  # closed today for a public holiday
    UNKNOWN = "unknown"  # the site has no opening hours


class WifiState(StrEnum):
    ON = "on"  # a hotspot of the place lets residents connect now
    OFF = "off"  # it has hotspots, none lets anyone connect now


@dataclass(frozen=True)
class HoursNow:
    """Whether a place is open at an instant, and the instants around it (UTC)."""

    state: HoursState
    until: datetime | None = None  # OPEN: when it closes
    opens: datetime | None = None  # closed: when it opens next (None: not within a year)
    reason: str = ""  # CLOSURE: the closure's reason as staff wrote it

    @property
    def is_open(self) -> bool:
        return self.state in (HoursState.OPEN, HoursState.ROUND_THE_CLOCK)


@dataclass(frozen=True)
class Coordinates:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class PublicPlace:
    """A public site as the public pages show it: never a device, never a person."""

    site_id: int
    slug: str
    name: str
    address: str
    postcode: str
    city: str
    coordinates: Coordinates | None
    opening_hours: str  # OpenStreetMap syntax, "" when unknown
    offers: tuple[Offer, ...]
    hours: HoursNow
    accessibility_url: str = ""
    website: str = ""
    phone: str = ""
    summary: str = ""
    distance_m: float | None = None  # from the visitor, when they shared where they are


@dataclass(frozen=True)
class LiveState:
    """A place's devices now, counted: what a resident wants to know before coming."""

    pcs_free: int = 0
    pcs_total: int = 0
    wifi: WifiState | None = None  # None: no hotspot there
    lockers_free: int = 0
    lockers_total: int = 0


@dataclass(frozen=True)
class DayOpening:
    """One local day of a place: its open stretches (local times), or why it is closed."""

    day: date
    ranges: tuple[tuple[time, time], ...]
    closure: str | None = None  # the reason of an exceptional closure that day ("" if none given)


@dataclass(frozen=True)
class NearbyPlace:
    """A public place near a hotspot, as its closed page lists it (offline, on the gateway)."""

    name: str
    address: str
    opening_hours: str
    distance_m: int


# --- where the visitor is ----------------------------------------------------------------------


def coordinates_from(latitude: str | None, longitude: str | None) -> Coordinates | None:
    """The visitor's position from ``?lat=&lon=`` (decimal degrees), None when neither is
    given; a clear :class:`DomainError` (400) for one without the other or a bad number."""
    if not latitude and not longitude:
        return None
    if not latitude or not longitude:
        raise DomainError(
            _("Give both lat and lon (a latitude and a longitude in degrees), or neither.")
        )
    lat = _degrees("lat", latitude, 90)
    lon = _degrees("lon", longitude, 180)
    return Coordinates(lat, lon)


def _degrees(name: str, text: str, most: int) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -most <= value <= most:
        raise DomainError(
            _(
                "%(name)s must be a number of degrees between -%(most)d and %(most)d, "
                "such as 45.19; got %(value)s",
                name=name,
                most=most,
                value=repr(text[:40]),
            )
        )
    return value


def distance_m(a: Coordinates, b: Coordinates) -> float:
    """The great-circle distance in metres (haversine)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# --- opening hours -----------------------------------------------------------------------------


def hours_now(
    expression: str, now: datetime, policy: SchedulePolicy, closures: Sequence[Closure] = ()
) -> HoursNow:
    """Whether a place with these hours and closures is open at ``now`` (aware), and until or
    from when; public holidays close it unless its hours mention ``PH`` (as for its PCs)."""
    if not expression.strip():
        return HoursNow(HoursState.UNKNOWN)
    horizon = now + ROUND_THE_CLOCK
    for opens, closes in open_intervals(expression, now, horizon, policy=policy, closures=closures):
        if opens <= now < closes:
            if closes >= horizon:
                return HoursNow(HoursState.ROUND_THE_CLOCK)
            return HoursNow(HoursState.OPEN, until=closes)
    coming = next_opening(expression, now, policy=policy, closures=closures)
    today = now.astimezone(policy.zone).date()
    closure = next((c for c in closures if c.starts_on <= today <= c.ends_on), None)
    if closure is not None:
        return HoursNow(HoursState.CLOSURE, opens=coming, reason=closure.reason)
    if _holiday_today(expression, today, policy):
        return HoursNow(HoursState.HOLIDAY, opens=coming)
    return HoursNow(HoursState.CLOSED, opens=coming)


def _holiday_today(expression: str, today: date, policy: SchedulePolicy) -> bool:
    """Whether the hours would open today but for a public holiday."""
    zone = policy.zone
    start = datetime.combine(today, time(0), tzinfo=zone)
    end = start + timedelta(days=1)
    as_written = open_intervals(expression, start, end, policy=policy, holidays_closed=False)
    return bool(as_written) and not open_intervals(expression, start, end, policy=policy)


def opening_days(
    expression: str, first_day: date, policy: SchedulePolicy, closures: Sequence[Closure] = ()
) -> list[DayOpening]:
    """The seven local days from ``first_day`` as residents will find them: closures and public
    holidays counted."""
    zone = policy.zone
    days = []
    for n in range(7):
        day = first_day + timedelta(days=n)
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        ranges = tuple(
            (a.astimezone(zone).time(), b.astimezone(zone).time())
            for a, b in open_intervals(expression, start, end, policy=policy, closures=closures)
        )
        closure = next((c for c in closures if c.starts_on <= day <= c.ends_on), None)
        days.append(DayOpening(day, ranges, closure.reason if closure is not None else None))
    return days


def closures_by_site(
    session: Session, site_ids: Iterable[int], today: date
) -> dict[int, list[Closure]]:
    """The closures of these sites that are not over by ``today``."""
    found: dict[int, list[Closure]] = {}
    wanted = list(site_ids)
    if not wanted:
        return found
    for row in session.scalars(
        select(SiteClosure).where(SiteClosure.site_id.in_(wanted), SiteClosure.ends_on >= today)
    ):
        found.setdefault(row.site_id, []).append(Closure(row.starts_on, row.ends_on, row.reason))
    return found


# --- the places --------------------------------------------------------------------------------


def public_places(
    session: Session,
    *,
    now: datetime,
    policy: SchedulePolicy,
    near: Coordinates | None = None,
) -> list[PublicPlace]:
    """Every public site, by name; when the visitor shares ``near``, the open ones first, each
    group nearest first (places without coordinates last)."""
    sites = list(session.scalars(select(Site).where(Site.public.is_(True)).order_by(Site.name)))
    places = _places(session, sites, now=now, policy=policy, near=near)
    if near is not None:
        places.sort(key=_nearest_open_first)
    return places


def find_public_place(
    session: Session, slug: str, *, now: datetime, policy: SchedulePolicy
) -> PublicPlace:
    """The public site ``slug``; :class:`NotFound` for an unknown one and a site that is not
    public alike (its existence is nobody's business)."""
    site = session.scalar(select(Site).where(Site.slug == slug, Site.public.is_(True)))
    if site is None:
        raise NotFound(_("There is no public place at this address."))
    return _places(session, [site], now=now, policy=policy)[0]


def _nearest_open_first(place: PublicPlace) -> tuple[bool, bool, float, str]:
    distance = place.distance_m
    return (not place.hours.is_open, distance is None, distance or 0.0, place.name)


def _places(
    session: Session,
    sites: Sequence[Site],
    *,
    now: datetime,
    policy: SchedulePolicy,
    near: Coordinates | None = None,
) -> list[PublicPlace]:
    ids = [site.id for site in sites]
    closures = closures_by_site(session, ids, now.astimezone(policy.zone).date())
    kinds = _device_kinds(session, ids)
    places = []
    for site in sites:
        where = _coordinates_of(site)
        places.append(
            PublicPlace(
                site_id=site.id,
                slug=site.slug,
                name=site.name,
                address=site.address,
                postcode=site.postcode,
                city=site.city,
                coordinates=where,
                opening_hours=site.opening_hours,
                offers=offers_of(site, kinds.get(site.id, set())),
                hours=hours_now(site.opening_hours, now, policy, closures.get(site.id, ())),
                # The open-data fields, read defensively: sites gain them with migration 0014.
                accessibility_url=site.accessibility_url,
                website=site.website,
                phone=site.phone,
                summary=site.summary,
                distance_m=distance_m(near, where) if near and where else None,
            )
        )
    return places


def _coordinates_of(site: Site) -> Coordinates | None:
    if site.latitude is None or site.longitude is None:
        return None
    return Coordinates(site.latitude, site.longitude)


def _device_kinds(session: Session, site_ids: list[int]) -> dict[int, set[DeviceKind]]:
    found: dict[int, set[DeviceKind]] = {}
    if not site_ids:
        return found
    rows = session.execute(
        select(Device.site_id, Device.kind)
        .where(Device.site_id.in_(site_ids), Device.retired_at.is_(None))
        .distinct()
    )
    for site_id, kind in rows:
        found.setdefault(site_id, set()).add(DeviceKind(kind))
    return found


def offers_of(site: Site, kinds: set[DeviceKind]) -> tuple[Offer, ...]:
    """What a resident finds at ``site``: what its devices show (PCs, a hotspot, a kiosk) and
    what it declares (its services, its modes of accompaniment)."""
    declared = set(site.services or ())
    modes = set(site.support_modes or ())
    found = set()
    if DeviceKind.PC in kinds or FREE_ACCESS_SERVICE in declared:
        found.add(Offer.FREE_PCS)
    if declared & ACCOMPANIED_SERVICES or modes & ACCOMPANIED_MODES:
        found.add(Offer.ACCOMPANIED)
    if DeviceKind.HOTSPOT in kinds:  # wifi is a hotspot of ours, never a declared word
        found.add(Offer.WIFI)
    if DeviceKind.KIOSK in kinds:
        found.add(Offer.CHARGING)
    return tuple(offer for offer in Offer if offer in found)


# --- live state --------------------------------------------------------------------------------


def live_states(
    session: Session, open_now: Mapping[int, bool], now: datetime
) -> dict[int, LiveState]:
    """The live state of each site in ``open_now`` (site id -> open at ``now``), counted.

    A PC is free when it is online, in service, its guest login open, and nobody is in a session
    on it; the total counts every PC of the place that is not retired, so that "0 of 5 free"
    tells a resident the place has PCs, all busy or broken. The wifi is on when a hotspot is
    online and in service, its portal runs and lets people in now (not in "closed" mode, and
    within the place's hours when it follows them). Lockers: :func:`lockers.free_lockers_by_site`.
    """
    ids = list(open_now)
    pcs = _pcs_free(session, ids)
    wifi = _wifi(session, ids, open_now)
    lockers_free = lockers.free_lockers_by_site(session, ids)
    return {
        site_id: LiveState(
            pcs_free=pcs.get(site_id, (0, 0))[0],
            pcs_total=pcs.get(site_id, (0, 0))[1],
            wifi=wifi.get(site_id),
            lockers_free=lockers_free.get(site_id, (0, 0))[0],
            lockers_total=lockers_free.get(site_id, (0, 0))[1],
        )
        for site_id in ids
    }


def _live_devices(session: Session, site_ids: list[int], kind: DeviceKind) -> list[Device]:
    if not site_ids:
        return []
    return list(
        session.scalars(
            select(Device)
            .where(Device.site_id.in_(site_ids), Device.kind == kind, Device.retired_at.is_(None))
            .options(undefer(Device.metrics))
        )
    )


def _state_of(device: Device) -> dict[str, Any]:
    state = (device.metrics or {}).get("state")
    return state if isinstance(state, dict) else {}


def _usable(device: Device) -> bool:
    online = DeviceStatus(device.status) is DeviceStatus.ONLINE
    return online and device.out_of_service_since is None


def _pcs_free(session: Session, site_ids: list[int]) -> dict[int, tuple[int, int]]:
    pcs = _live_devices(session, site_ids, DeviceKind.PC)
    locked = devices_with_login_locked(session, pcs)
    found: dict[int, tuple[int, int]] = {}
    for pc in pcs:
        free, total = found.get(pc.site_id, (0, 0))
        if _usable(pc) and pc.id not in locked and _state_of(pc).get("session") != SESSION_ACTIVE:
            free += 1
        found[pc.site_id] = (free, total + 1)
    return found


def _wifi(
    session: Session, site_ids: list[int], open_now: Mapping[int, bool]
) -> dict[int, WifiState]:
    hotspots = _live_devices(session, site_ids, DeviceKind.HOTSPOT)
    configs = {
        config.device_id: config
        for config in session.scalars(
            select(HotspotPortal).where(HotspotPortal.device_id.in_([h.id for h in hotspots]))
        )
    }
    found: dict[int, WifiState] = {}
    for hotspot in hotspots:
        config = configs.get(hotspot.id)
        lets_in = config is None or (
            config.mode != PortalModeName.CLOSED
            and (not config.follow_site_hours or open_now.get(hotspot.site_id, False))
        )
        running = _state_of(hotspot).get(PORTAL_STATE) == PORTAL_RUNNING
        if _usable(hotspot) and running and lets_in:
            found[hotspot.site_id] = WifiState.ON
        else:
            found.setdefault(hotspot.site_id, WifiState.OFF)
    return found


# --- the hotspots' closed page -----------------------------------------------------------------


def nearby_for_portal(
    session: Session, site: Site, *, limit: int = PORTAL_NEARBY
) -> list[NearbyPlace]:
    """The public places nearest ``site`` with opening hours, for its hotspots' closed page:
    the portal works them out offline from their OSM hours (their closures are not sent, and a
    place with none is left out: "open" would be a guess). Empty for a site without coordinates.
    """
    origin = _coordinates_of(site)
    if origin is None:
        return []
    others = session.scalars(
        select(Site).where(
            Site.public.is_(True),
            Site.id != site.id,
            Site.latitude.is_not(None),
            Site.longitude.is_not(None),
            Site.opening_hours != "",
        )
    )
    ranked = sorted(
        (
            (distance_m(origin, where), other)
            for other in others
            if (where := _coordinates_of(other)) is not None
        ),
        key=lambda pair: (pair[0], pair[1].name),
    )
    return [
        NearbyPlace(
            name=other.name,
            address=", ".join(part for part in (other.address, other.city) if part),
            opening_hours=other.opening_hours,
            distance_m=round(distance),
        )
        for distance, other in ranked[:limit]
    ]


def portal_nearby_args(session: Session, site: Site) -> dict[str, Any]:
    """What a hotspot of ``site`` is sent for its portal's closed page: the places nearest the
    site, and the address of the list of places when the controller knows its public address
    (``public_url``: not from the command line). The settings renderer leaves them out for an
    agent that would refuse them (configuration/render.py)."""
    args: dict[str, Any] = {
        "portal_nearby_places": [
            {
                "name": place.name,
                "address": place.address,
                "opening_hours": place.opening_hours,
                "distance_m": place.distance_m,
            }
            for place in nearby_for_portal(session, site)
        ]
    }
    public_url = settings_of(current_app).public_url if has_app_context() else ""
    if public_url:
        args["portal_places_url"] = f"{public_url.rstrip('/')}/places"
    return args
