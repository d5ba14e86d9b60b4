"""The sites' hours of the week by month (statistics_site_week_hours): kept as events arrive
with the other rollups, the hours of the week they give over a period of whole months and
loose days at its ends equal the raw rows; a rebuild from a day within a month gives them back
as they were; migration 0018 fills them from the site-hours already kept."""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from controller import migrate
from controller.fleet.models import Device
from controller.places.models import Site
from controller.places.opening_hours import open_intervals
from controller.public_pcs.models import PcSession
from controller.statistics import figures, privacy, rollups
from controller.statistics.models import SiteHour, SiteWeekHour
from tests.controller.statistics.conftest import START
from tests.factories import make_device, make_site
from tests.postgres import create_database


def raw_week(db, local, policy, period, until) -> figures.WeekGrid:
    """The hours of the week of every site over ``period``, straight from the raw sessions and
    the sites' opening hours (settled up to ``until``), small counts hidden as the page does."""
    sessions: dict[int, int] = defaultdict(int)
    in_use: dict[int, int] = defaultdict(int)
    opened: dict[int, int] = defaultdict(int)
    for row in db.scalars(select(PcSession)):
        if period.start <= row.started_at < period.end:
            sessions[local.weekhour(rollups.floor_hour(row.started_at))] += 1
        for hour, seconds in rollups.hour_pieces(
            max(row.started_at, period.start), min(row.ended_at, period.end)
        ):
            in_use[local.weekhour(hour)] += seconds
    for pc in db.scalars(select(Device).where(Device.kind == "pc")):
        site = db.get(Site, pc.site_id)
        begin, end = max(period.start, pc.enrolled_at), min(period.end, until)
        for a, b in open_intervals(site.opening_hours, begin, end, policy=policy):
            for hour, seconds in rollups.hour_pieces(a, b):
                opened[local.weekhour(hour)] += seconds
    weekhours = sorted(w for w, seconds in opened.items() if seconds > 0)
    shown = privacy.protect({w: sessions[w] for w in weekhours})
    cells = [
        figures.WeekCell(
            weekday=w // 24,
            hour=w % 24,
            sessions=shown[w],
            occupancy=None if shown[w] is None else min(1.0, in_use[w] / opened[w]),
        )
        for w in weekhours
    ]
    return figures.WeekGrid(cells, sum(1 for value in shown.values() if value is None))


def week_rows(db) -> dict[tuple[int, date, int], tuple[int, ...]]:
    return {
        (row.site_id, row.month, row.weekhour): tuple(getattr(row, m) for m in rollups.MEASURES)
        for row in db.scalars(select(SiteWeekHour))
        if any(getattr(row, m) for m in rollups.MEASURES)
    }


def test_the_hours_of_the_week_over_months_and_loose_days_equal_the_raw_rows(
    db, generate_usage, local, policy
):
    usage = generate_usage(days=31, seed=3)  # 1 November to 3 December, in Paris
    until = START + timedelta(days=40)
    rollups.add_open_hours(
        db, tally := rollups.Tally(local), START - timedelta(days=8), until, policy
    )
    tally.write(db)
    selection = figures.Selection(tuple(usage.sites), usage.organisation)

    for first, last in (
        (date(2026, 11, 1), date(2026, 12, 2)),  # November whole, two loose days after
        (date(2026, 10, 27), date(2026, 11, 30)),  # loose days before, November whole
        (date(2026, 11, 3), date(2026, 12, 2)),  # no whole month: the site-hours only
        (date(2026, 10, 29), date(2026, 12, 31)),  # two whole months and the days before
    ):
        period = figures.period_of(first, last, local)
        expected = raw_week(db, local, policy, period, until)
        assert figures.week_grid(db, selection, period) == expected, (first, last)
        assert sum(cell.sessions or 0 for cell in expected.cells) > 50  # it says something
    assert (
        figures.whole_months(figures.period_of(date(2026, 11, 3), date(2026, 12, 2), local)) is None
    )


def test_a_rebuild_from_a_day_within_a_month_gives_its_hours_of_the_week_back(
    db, generate_usage, local, policy
):
    generate_usage(days=12, seed=5)
    now = START + timedelta(days=14)
    rollups.add_open_hours(
        db, tally := rollups.Tally(local), START - timedelta(days=31), now, policy
    )
    tally.write(db)
    kept = week_rows(db)
    assert {month for _site, month, _weekhour in kept} == {date(2026, 10, 1), date(2026, 11, 1)}

    rollups.rebuild(db, local, policy, now=now)
    assert week_rows(db) == kept
    # From the 7th: the days of November before it are given back from the site-hours.
    rollups.rebuild(db, local, policy, since=date(2026, 11, 7), now=now)
    assert week_rows(db) == kept
    rollups.rebuild(db, local, policy, since=date(2026, 11, 1), now=now)
    assert week_rows(db) == kept


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'borne.sqlite3'}"
    base = request.getfixturevalue("postgres_base_url")
    return create_database(base, f"borne_week_hours_{os.getpid()}")


def test_migration_0018_fills_the_months_from_the_site_hours_kept(fresh_url, local):
    migrate.upgrade(fresh_url)
    engine = create_engine(fresh_url)
    try:
        with Session(engine) as db:
            pc = make_device(db, make_site(db), enrolled_at=START - timedelta(days=60))
            site_id = pc.site_id
            tally = rollups.Tally(local)
            # The night the clocks go back (two UTC hours at 02:00 in Paris), the last hour of
            # October in Paris (22:00 UTC) and the first of November (23:00 UTC).
            for hour in (
                datetime(2026, 10, 25, 0, tzinfo=UTC),
                datetime(2026, 10, 25, 1, tzinfo=UTC),
                datetime(2026, 10, 31, 22, tzinfo=UTC),
                datetime(2026, 10, 31, 23, tzinfo=UTC),
                datetime(2026, 11, 9, 9, tzinfo=UTC),
            ):
                tally.add(pc, hour, pc_sessions=2, pc_in_use_s=600, observed_s=60)
            tally.write(db)
            db.commit()
            kept = week_rows(db)
            assert len(db.scalars(select(SiteHour)).all()) == 5
        assert len(kept) == 4 and (site_id, date(2026, 11, 1), 6 * 24) in kept

        command.downgrade(migrate.alembic_config(fresh_url), "0017")
        migrate.upgrade(fresh_url)

        with Session(engine) as db:
            assert week_rows(db) == kept
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("hour", "weekhour", "day"),
    [
        (datetime(2026, 10, 31, 23, tzinfo=UTC), 6 * 24, date(2026, 11, 1)),  # Paris, UTC+1
        (datetime(2026, 11, 2, 20, tzinfo=UTC), 1 * 24 + 6, date(2026, 11, 3)),  # UTC+10
        (datetime(2026, 11, 2, 20, tzinfo=UTC), 1 * 24 + 1, date(2026, 11, 3)),  # India, +5:30
        (datetime(2026, 11, 2, 3, tzinfo=UTC), 6 * 24 + 17, date(2026, 11, 1)),  # -9:30
    ],
)
def test_migration_0018_finds_the_local_day_from_the_hour_of_the_week(hour, weekhour, day):
    from importlib import import_module

    migration = import_module("controller.migrations.versions.0018_statistics_weeks")
    assert migration.local_day(hour, weekhour) == day
