"""The public places (controller/public_places/service.py): which sites are listed, whether each
is open now and until or from when (closures and public holidays included), their live state in
counts, the nearest open first, and the short list a hotspot's closed page gets."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from agent.protocol import DeviceKind, LockerState, PortalModeName
from controller.errors import DomainError, NotFound
from controller.fleet.models import DeviceStatus
from controller.hotspots import service as hotspot_portal
from controller.places.models import SiteClosure
from controller.places.opening_hours import Closure, SchedulePolicy
from controller.public_places import service
from controller.public_places.service import (
    Coordinates,
    HoursState,
    LiveState,
    Offer,
    WifiState,
)
from tests.controller.public_places.conftest import NOW
from tests.factories import make_device, make_site, make_user

POLICY = SchedulePolicy(timezone="Europe/Paris")
TUESDAY_TO_SATURDAY = "Tu-Sa 10:00-18:00"
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 10:00 in Grenoble
CHRISTMAS = datetime(2026, 12, 25, 9, 0, tzinfo=UTC)  # a Friday
CENTRE = Coordinates(45.1885, 5.7245)  # place Grenette


# --- opening hours --------------------------------------------------------------------------


def test_an_open_place_says_until_when():
    hours = service.hours_now(TUESDAY_TO_SATURDAY, NOW, POLICY)

    assert hours.state is HoursState.OPEN and hours.is_open
    assert hours.until == datetime(2026, 12, 9, 17, 0, tzinfo=UTC)  # 18:00 local


def test_a_closed_place_says_when_it_opens_next():
    hours = service.hours_now(TUESDAY_TO_SATURDAY, MONDAY, POLICY)

    assert hours.state is HoursState.CLOSED and not hours.is_open
    assert hours.opens == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # Tuesday 10:00 local


def test_an_exceptional_closure_closes_the_day_and_says_why():
    works = Closure(date(2026, 12, 9), date(2026, 12, 9), "travaux")

    hours = service.hours_now(TUESDAY_TO_SATURDAY, NOW, POLICY, [works])

    assert (hours.state, hours.reason) == (HoursState.CLOSURE, "travaux")
    assert hours.opens == datetime(2026, 12, 10, 9, 0, tzinfo=UTC)  # Thursday 10:00


def test_a_public_holiday_closes_a_place_whose_hours_do_not_mention_it():
    hours = service.hours_now("Mo-Fr 09:00-17:00", CHRISTMAS, POLICY)

    assert hours.state is HoursState.HOLIDAY
    assert hours.opens == datetime(2026, 12, 28, 8, 0, tzinfo=UTC)  # Monday 09:00


def test_round_the_clock_and_unknown_hours():
    assert service.hours_now("24/7", NOW, POLICY).state is HoursState.ROUND_THE_CLOCK
    assert service.hours_now("", NOW, POLICY).state is HoursState.UNKNOWN


def test_the_week_counts_closures():
    works = Closure(date(2026, 12, 10), date(2026, 12, 10), "grève")

    week = service.opening_days(TUESDAY_TO_SATURDAY, date(2026, 12, 9), POLICY, [works])

    assert [len(day.ranges) for day in week] == [1, 0, 1, 1, 0, 0, 1]
    assert week[1].closure == "grève" and week[4].closure is None


# --- where the visitor is ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon", "wrong"),
    [
        ("45.19", None, "both lat and lon"),
        ("north", "5.7", "lat must be a number"),
        ("45.19", "181", "lon must be a number of degrees between -180 and 180"),
        ("nan", "5.7", "lat must be"),
        ("inf", "5.7", "lat must be"),
    ],
)
def test_a_bad_position_is_refused_with_what_is_wrong(lat, lon, wrong):
    with pytest.raises(DomainError, match=wrong):
        service.coordinates_from(lat, lon)


def test_no_position_is_no_position():
    assert service.coordinates_from(None, None) is None
    assert service.coordinates_from("45.19", "5.72") == Coordinates(45.19, 5.72)


def test_distances_are_great_circle_metres():
    # Grenoble's station to place Grenette: about 1.1 km as the crow flies.
    station = Coordinates(45.1913, 5.7146)
    assert 800 < service.distance_m(station, CENTRE) < 900


# --- the places -------------------------------------------------------------------------------


def test_only_public_sites_are_listed_by_name(db):
    make_site(db, name="Zèbre", public=True)
    make_site(db, name="Atelier", public=True)
    make_site(db, name="Bureau des agents", public=False)

    names = [p.name for p in service.public_places(db, now=NOW, policy=POLICY)]

    assert names == sorted(names) and "Bureau des agents" not in names
    assert {"Zèbre", "Atelier"} <= set(names)


def test_a_site_that_is_not_public_is_not_found_like_an_unknown_one(db):
    hidden = make_site(db, public=False)

    for slug in (hidden.slug, "no-such-place"):
        with pytest.raises(NotFound):
            service.find_public_place(db, slug, now=NOW, policy=POLICY)


def test_a_closure_recorded_for_today_shows_on_the_place(db):
    site = make_site(db, opening_hours=TUESDAY_TO_SATURDAY)
    db.add(
        SiteClosure(
            site=site, starts_on=date(2026, 12, 9), ends_on=date(2026, 12, 9), reason="travaux"
        )
    )
    db.flush()

    place = service.find_public_place(db, site.slug, now=NOW, policy=POLICY)

    assert (place.hours.state, place.hours.reason) == (HoursState.CLOSURE, "travaux")


def test_open_places_come_first_nearest_first_when_the_visitor_shares_a_position(db):
    far_open = make_site(db, name="A far open", latitude=45.16, longitude=5.73)
    near_closed = make_site(
        db, name="B near closed", latitude=45.1886, longitude=5.7246, opening_hours="Su 10:00-12:00"
    )
    near_open = make_site(db, name="C near open", latitude=45.189, longitude=5.725)
    nowhere = make_site(db, name="D open, no coordinates", latitude=None, longitude=None)
    for site in (far_open, near_open, nowhere):
        site.opening_hours = TUESDAY_TO_SATURDAY
    db.flush()

    places = service.public_places(db, now=NOW, policy=POLICY, near=CENTRE)
    ours = [
        p.name
        for p in places
        if p.site_id in {s.id for s in (far_open, near_closed, near_open, nowhere)}
    ]

    assert ours == ["C near open", "A far open", "D open, no coordinates", "B near closed"]
    assert places[0].distance_m is not None and places[0].distance_m < 100


def test_what_a_place_offers_comes_from_its_devices_and_its_services(db, make_pc):
    site = make_site(db, services=["Aide aux démarches administratives"])
    make_pc(site)
    make_device(db, site, kind=DeviceKind.KIOSK)
    make_device(db, site, kind=DeviceKind.HOTSPOT, retired_at=NOW)  # gone: no wifi

    place = service.find_public_place(db, site.slug, now=NOW, policy=POLICY)

    assert place.offers == (Offer.FREE_PCS, Offer.ACCOMPANIED, Offer.CHARGING)


# --- live state -------------------------------------------------------------------------------


def test_free_pcs_are_online_in_service_and_without_a_session(db, make_pc):
    site = make_site(db)
    make_pc(site)
    make_pc(site)
    make_pc(site, session="active")
    make_pc(site, status=DeviceStatus.OFFLINE)
    make_pc(site, out_of_service_since=NOW)
    make_pc(site, retired_at=NOW)  # not there any more: not counted at all

    state = service.live_states(db, {site.id: True}, NOW)[site.id]

    assert (state.pcs_free, state.pcs_total) == (2, 5)


def test_wifi_is_on_when_a_hotspot_lets_residents_in_now(db, make_live_hotspot):
    on, down, closed_mode, after_hours, none = (make_site(db) for _ in range(5))
    make_live_hotspot(on)
    make_live_hotspot(down, running=False)
    closed = make_live_hotspot(closed_mode)
    hotspot_portal.portal_config(db, closed).mode = PortalModeName.CLOSED
    following = make_live_hotspot(after_hours)
    hotspot_portal.portal_config(db, following).follow_site_hours = True
    db.flush()

    states = service.live_states(
        db,
        {on.id: True, down.id: True, closed_mode.id: True, after_hours.id: False, none.id: True},
        NOW,
    )

    assert states[on.id].wifi is WifiState.ON
    assert states[down.id].wifi is WifiState.OFF
    assert states[closed_mode.id].wifi is WifiState.OFF
    assert states[after_hours.id].wifi is WifiState.OFF
    assert states[none.id].wifi is None


def test_lockers_free_are_counted_per_place(db, make_kiosk_with):
    site = make_site(db)
    make_kiosk_with(site, [LockerState.FREE, LockerState.OCCUPIED, LockerState.FREE])
    make_kiosk_with(site, [LockerState.FREE], status=DeviceStatus.OFFLINE)  # offers none

    state = service.live_states(db, {site.id: True}, NOW)[site.id]

    assert (state.lockers_free, state.lockers_total) == (2, 4)


def test_a_place_without_devices_has_an_empty_live_state(db):
    site = make_site(db)

    assert service.live_states(db, {site.id: True}, NOW) == {site.id: LiveState()}


# --- the hotspots' closed page ----------------------------------------------------------------


def test_a_hotspot_gets_the_nearest_public_places_with_hours(db):
    here = make_site(db, latitude=45.1885, longitude=5.7245)
    near = make_site(db, name="Near", latitude=45.189, longitude=5.725, address="1 rue A")
    far = make_site(db, name="Far", latitude=45.25, longitude=5.80)
    make_site(db, name="Hidden", latitude=45.1886, longitude=5.7246, public=False)
    make_site(db, name="No hours", latitude=45.1886, longitude=5.7246, opening_hours="")

    found = [
        p
        for p in service.nearby_for_portal(db, here, limit=50)
        if p.name in {"Near", "Far", "Hidden", "No hours"}
    ]

    assert [p.name for p in found] == ["Near", "Far"]
    assert found[0].address == "1 rue A, Grenoble" and found[0].opening_hours == near.opening_hours
    assert found[0].distance_m < found[1].distance_m < 20_000
    assert far.name == "Far"


def test_only_hotspots_that_read_them_are_sent_the_nearby_places(db, make_live_hotspot):
    here = make_site(db)
    make_site(db, name="Nearby library")
    reads = make_live_hotspot(here)
    older = make_device(db, here, kind=DeviceKind.HOTSPOT, metrics={"state": {"portal": "running"}})

    args = service.portal_nearby_args(db, here)
    sent = {
        hotspot.id: hotspot_portal.set_portal(
            db, make_user(db), hotspot, mode="click", follow_site_hours=False, session_min=60,
            timezone="Europe/Paris",
        )[0].args
        for hotspot in (reads, older)
    }  # fmt: skip

    assert "Nearby library" in [p["name"] for p in args["portal_nearby_places"]]
    assert "portal_places_url" not in args  # no app, no public address known
    assert "Nearby library" in [p["name"] for p in sent[reads.id]["portal_nearby_places"]]
    assert "portal_nearby_places" not in sent[older.id]
    assert sent[older.id]["portal_mode"] == "click"  # the rest of its settings still go


def test_the_hotspots_settings_carry_the_nearby_places(db, make_live_hotspot):
    here = make_site(db)
    make_site(db, name="Nearby library", opening_hours="Mo-Sa 09:00-19:00")
    hotspot = make_live_hotspot(here)

    [command] = hotspot_portal.set_portal(
        db, make_user(db), hotspot, mode="click", follow_site_hours=True, session_min=60,
        timezone="Europe/Paris",
    )  # fmt: skip

    sent = {p["name"]: p for p in command.args["portal_nearby_places"]}
    assert sent["Nearby library"]["opening_hours"] == "Mo-Sa 09:00-19:00"
    assert command.args["portal_mode"] == "click"


def test_the_distance_sent_is_whole_metres(db):
    here = make_site(db, latitude=45.0, longitude=5.0)
    make_site(db, name="One km north", latitude=45.0 + 1 / 111.2, longitude=5.0)

    [place] = [p for p in service.nearby_for_portal(db, here, limit=50) if p.name == "One km north"]

    assert isinstance(place.distance_m, int) and abs(place.distance_m - 1000) < 5
