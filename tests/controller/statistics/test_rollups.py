"""The hourly rollups (controller/statistics/rollups.py): kept up to date as agents' events
arrive, they equal what the raw rows say; a rebuild gives the same; opening hours and
availability are counted once whatever the number of controller processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from agent.protocol import DeviceKind, SessionEnd
from controller.fleet.condition import Concern
from controller.fleet.models import DeviceStatus
from controller.statistics import rollups
from controller.statistics.models import ENDED_COLUMNS, DeviceHour, SiteDay, SiteHour
from tests.controller.statistics.conftest import START
from tests.factories import make_device, make_site

MONDAY_10H_PARIS = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def site_sums(db, model, column, low, high):
    names = ["pc_sessions", "pc_in_use_s", "charging_sessions", "charging_s", "wifi_connections"]
    names += ["pc_open_s", *ENDED_COLUMNS.values()]
    rows = db.execute(
        select(model.site_id, *[func.sum(getattr(model, n)).label(n) for n in names])
        .where(column >= low, column < high)
        .group_by(model.site_id)
    )
    return {row.site_id: {n: int(getattr(row, n)) for n in names} for row in rows}


def as_sums(raw):
    return {
        site_id: {
            "pc_sessions": f.pc_sessions,
            "pc_in_use_s": f.pc_in_use_s,
            "charging_sessions": f.charging_sessions,
            "charging_s": f.charging_s,
            "wifi_connections": f.wifi_connections,
            "pc_open_s": f.pc_open_s,
            **{column: f.ended_by.get(end.value, 0) for end, column in ENDED_COLUMNS.items()},
        }
        for site_id, f in raw.items()
    }


def test_rollups_kept_as_events_arrive_equal_the_raw_rows(
    db, generate_usage, raw_figures, local, policy
):
    usage = generate_usage(days=10)
    until = START + timedelta(days=12)
    rollups.add_open_hours(
        db, tally := rollups.Tally(local), START - timedelta(days=2), until, policy
    )
    tally.write(db)

    # A period of whole local days, cut inside the generated days: sessions and phones that
    # straddle its ends count for their part within it.
    first, last = START.date() + timedelta(days=2), START.date() + timedelta(days=8)
    start, end = local.midnight(first), local.midnight(last + timedelta(days=1))
    expected = as_sums(raw_figures(start, end, until))

    assert site_sums(db, SiteDay, SiteDay.day, first, last + timedelta(days=1)) == expected
    assert site_sums(db, SiteHour, SiteHour.hour, start, end) == expected
    assert site_sums(db, DeviceHour, DeviceHour.hour, start, end) == expected
    assert expected[usage.sites[0].id]["pc_sessions"] > 20  # the data says something
    assert expected[usage.sites[0].id]["wifi_connections"] > 0


def test_a_rebuild_from_raw_rows_gives_what_was_kept_as_events_arrived(
    db, generate_usage, local, policy
):
    generate_usage(days=6, seed=7)
    now = START + timedelta(days=8)
    rollups.add_open_hours(
        db, tally := rollups.Tally(local), START - timedelta(days=31), now, policy
    )
    tally.write(db)
    everything = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    kept = site_sums(db, DeviceHour, DeviceHour.hour, *everything)
    kept_days = site_sums(db, SiteDay, SiteDay.day, everything[0].date(), everything[1].date())

    done = rollups.rebuild(db, local, policy, now=now)

    assert site_sums(db, DeviceHour, DeviceHour.hour, *everything) == kept
    assert (
        site_sums(db, SiteDay, SiteDay.day, everything[0].date(), everything[1].date()) == kept_days
    )
    assert done.pc_sessions == sum(s["pc_sessions"] for s in kept.values())

    # From a day on: what came before stays, what comes after is the same again.
    rollups.rebuild(db, local, policy, since=START.date() + timedelta(days=3), now=now)
    assert site_sums(db, DeviceHour, DeviceHour.hour, *everything) == kept


def test_a_session_across_hours_counts_where_it_started_and_its_time_in_each_hour(
    db, send_events, records
):
    pc = make_device(db)
    started = datetime(2026, 11, 2, 9, 40, tzinfo=UTC)  # 10:40 in Paris, a Monday
    send_events(pc, records.session(started, 40, SessionEnd.IDLE))

    hours = db.scalars(select(DeviceHour).order_by(DeviceHour.hour)).all()
    assert [(h.hour.hour, h.pc_sessions, h.pc_in_use_s, h.pc_ended_idle) for h in hours] == [
        (9, 1, 1200, 1),
        (10, 0, 1200, 0),
    ]
    assert [h.weekhour for h in hours] == [10, 11]  # Monday 10:00 and 11:00, local
    day = db.scalars(select(SiteDay)).one()
    assert (day.day.isoformat(), day.pc_sessions, day.pc_in_use_s) == ("2026-11-02", 1, 2400)


def test_a_hotspot_report_adds_only_what_its_running_count_adds(db, send_events, records):
    hotspot = make_device(db, kind=DeviceKind.HOTSPOT)
    hour = datetime(2026, 11, 2, 9, tzinfo=UTC)
    for count in (4, 9, 9, 6):  # the last one, lower, is an older report arriving late
        send_events(hotspot, records.portal({hour: count}, hour.date()))

    assert db.scalar(select(DeviceHour.wifi_connections)) == 9
    assert db.scalar(select(SiteDay.wifi_connections)) == 9


def test_opening_hours_are_settled_once_per_hour_whatever_the_processes(db, local, policy):
    site = make_site(db, opening_hours="Mo-Fr 09:00-17:00")
    make_device(db, site, enrolled_at=MONDAY_10H_PARIS - timedelta(days=3))
    make_device(db, site, kind=DeviceKind.HOTSPOT)  # not a public PC: no opening seconds

    assert rollups.settle_open_hours(db, local, policy, MONDAY_10H_PARIS) == 0  # starts the clock
    later = MONDAY_10H_PARIS + timedelta(hours=3, minutes=20)
    assert rollups.settle_open_hours(db, local, policy, later) == 3
    assert rollups.settle_open_hours(db, local, policy, later) == 0  # another process: nothing

    assert db.scalar(select(func.sum(DeviceHour.pc_open_s))) == 3 * 3600
    assert db.scalar(select(func.sum(SiteHour.pc_open_s))) == 3 * 3600


def test_availability_counts_the_watched_opening_time_and_the_usable_part(db, local, policy):
    site = make_site(db, opening_hours="Mo-Fr 09:00-17:00")
    enrolled = MONDAY_10H_PARIS - timedelta(days=1)
    up = make_device(db, site, status=DeviceStatus.ONLINE, enrolled_at=enrolled)
    down = make_device(db, site, status=DeviceStatus.OFFLINE, enrolled_at=enrolled)
    repaired = make_device(db, site, status=DeviceStatus.ONLINE, enrolled_at=enrolled)
    out_of_service = [(Concern.OUT_OF_SERVICE, lambda session, devices: {repaired.id})]
    # A concern that does not make a device unusable changes nothing.
    finders = [*out_of_service, (Concern.OPEN_ALERT, lambda session, devices: {up.id})]

    rollups.sample_availability(db, local, policy, finders, MONDAY_10H_PARIS)  # starts the clock
    rollups.sample_availability(db, local, policy, finders, MONDAY_10H_PARIS + timedelta(minutes=1))
    rollups.sample_availability(db, local, policy, finders, MONDAY_10H_PARIS + timedelta(minutes=1))

    watched = dict(db.execute(select(DeviceHour.device_id, DeviceHour.observed_s)).tuples().all())
    usable = dict(db.execute(select(DeviceHour.device_id, DeviceHour.usable_s)).tuples().all())
    assert watched == {up.id: 60, down.id: 60, repaired.id: 60}
    assert usable == {up.id: 60, down.id: 0, repaired.id: 0}

    # The controller away for an hour: only the last minutes are counted, nothing is guessed.
    rollups.sample_availability(db, local, policy, finders, MONDAY_10H_PARIS + timedelta(hours=1))
    assert (
        db.scalar(
            select(DeviceHour.observed_s).where(
                DeviceHour.device_id == up.id,
                DeviceHour.hour == MONDAY_10H_PARIS + timedelta(hours=1),
            )
        )
        is None
    )
    total = db.scalar(select(func.sum(DeviceHour.observed_s)).where(DeviceHour.device_id == up.id))
    assert total == 60 + int(rollups.LONGEST_SAMPLE.total_seconds())


def test_availability_is_not_counted_when_the_site_is_closed(db, local, policy):
    site = make_site(db, opening_hours="Mo-Fr 09:00-17:00")
    make_device(db, site, status=DeviceStatus.ONLINE, enrolled_at=START - timedelta(days=1))
    sunday = datetime(2026, 11, 8, 10, tzinfo=UTC)
    rollups.sample_availability(db, local, policy, [], sunday)
    rollups.sample_availability(db, local, policy, [], sunday + timedelta(minutes=1))
    assert db.scalar(select(func.count()).select_from(DeviceHour)) == 0


def test_hour_pieces_add_up_to_the_stretch():
    start = datetime(2026, 11, 2, 9, 59, 30, 500_000, tzinfo=UTC)
    end = datetime(2026, 11, 2, 12, 0, 10, tzinfo=UTC)
    pieces = list(rollups.hour_pieces(start, end))
    assert [seconds for _hour, seconds in pieces] == [30, 3600, 3600, 10]
    assert sum(s for _h, s in pieces) == int((end - start.replace(microsecond=0)).total_seconds())
