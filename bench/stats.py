"""Managers' statistics: each dashboard query on a year of data for 500 devices, from the hourly
rollups, beside the time the same answer takes from the raw rows; on SQLite and PostgreSQL.

It generates a city (60 sites, 380 public PCs, 70 hotspots, 50 charging kiosks by default), a
year of residents' sessions, phones charged and wifi hours as raw rows, rebuilds the rollups
from them (``borne controller statistics rebuild``, timed too), then runs each query of the
dashboard ``--repeat`` times for an organisation of all the sites, and the whole page (every
query) for the city and for one site, over the last 30 days (the page's default) and over the
whole year, and prints p50 and p95 in milliseconds; at the end, both backends side by side.

Target (DESIGN.md): every dashboard query, and the whole page, under 300 ms (p95) on a year of
data for 500 devices. Reference, printed beside it: the same figures computed from the raw rows
(sessions split per hour in Python for the hours of the week, as the rollups are).

Usage: python bench/stats.py [--devices 500] [--days 365] [--repeat 20] [--no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from agent.protocol import ChargingEnd, DeviceKind, SessionEnd
from controller import migrate
from controller.app import load_models
from controller.db import Database
from controller.fleet.models import Device, DeviceStatus
from controller.hotspots.models import PortalDay, PortalHour
from controller.lockers.models import ChargingSession
from controller.places.models import Organisation, Site
from controller.places.opening_hours import SchedulePolicy
from controller.public_pcs.models import PcSession
from controller.statistics import figures, rollups
from controller.statistics.models import DeviceHour, SiteWeekHour
from tests.postgres import create_database, postgres_server

TIMEZONE = "Europe/Paris"
HOURS = ["Tu-Sa 10:00-18:00", "Mo-Fr 09:00-17:00", "Tu-Fr 13:30-19:00; Sa 10:00-12:00"]
TARGET_MS = 300


def generate(session: Session, devices: int, days: int, seed: int = 14) -> date:
    """A city and ``days`` of raw usage ending yesterday; returns the last day."""
    rng = random.Random(seed)
    organisation = Organisation(name="Ville")
    session.add(organisation)
    sites = [
        Site(
            organisation=organisation,
            slug=f"site-{n}",
            name=f"Lieu {n:02d}",
            opening_hours=HOURS[n % len(HOURS)],
        )
        for n in range(60)
    ]
    session.add_all(sites)
    session.flush()
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first -= timedelta(days=days)
    kinds = [DeviceKind.PC] * int(devices * 0.76) + [DeviceKind.HOTSPOT] * int(devices * 0.14)
    kinds += [DeviceKind.KIOSK] * (devices - len(kinds))
    rows = []
    for n, kind in enumerate(kinds):
        rows.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "site_id": sites[n % len(sites)].id,
                "kind": kind,
                "name": f"{kind}-{n}",
                "secret_hash": "0" * 64,
                "status": DeviceStatus.ONLINE,
                "enrolled_at": first - timedelta(days=1),
                "heartbeat_interval_s": 10,
                "last_seq": 0,
                "metrics": {},
                "inventory": {},
                "out_of_service_reason": "",
            }
        )
    session.execute(insert(Device), rows)
    # Busy sites and quiet ones: each site its own pace, so the ranking has ends.
    pace = {site.id: rng.uniform(0.5, 9) for site in sites}
    sessions: list[dict[str, Any]] = []
    phones: list[dict[str, Any]] = []
    hours: list[dict[str, Any]] = []
    portal_days: list[dict[str, Any]] = []

    def flush(force: bool = False) -> None:
        for model, batch in (
            (PcSession, sessions),
            (ChargingSession, phones),
            (PortalHour, hours),
            (PortalDay, portal_days),
        ):
            if batch and (force or len(batch) >= 20_000):
                session.execute(insert(model), batch)
                batch.clear()

    for day in range(days):
        morning = first + timedelta(days=day, hours=8)
        weekday = morning.weekday()
        if weekday == 6:
            continue
        for device in rows:
            site_id = device["site_id"]
            if device["kind"] == DeviceKind.PC:
                at = morning + timedelta(minutes=rng.randint(0, 90))
                for _ in range(int(rng.expovariate(1 / pace[site_id]))):
                    length = rng.randint(3, 120)
                    ended = at + timedelta(minutes=length)
                    sessions.append(
                        {
                            "device_id": device["id"],
                            "site_id": site_id,
                            "started_at": at,
                            "ended_at": ended,
                            "duration_s": length * 60,
                            "ended_by": rng.choice(list(SessionEnd)),
                        }
                    )
                    at = ended + timedelta(minutes=rng.randint(1, 30))
            elif device["kind"] == DeviceKind.KIOSK:
                for n in range(rng.randint(0, 8)):
                    start = morning + timedelta(minutes=rng.randint(0, 600))
                    length = rng.randint(5, 180)
                    phones.append(
                        {
                            "device_id": device["id"],
                            "seq": day * 100 + n + 1,
                            "site_id": site_id,
                            "locker": n % 8 + 1,
                            "started_at": start,
                            "ended_at": start + timedelta(minutes=length),
                            "duration_s": length * 60,
                            "ended_by": ChargingEnd.CODE,
                        }
                    )
            else:
                for hour in range(12):
                    hours.append(
                        {
                            "device_id": device["id"],
                            "site_id": site_id,
                            "hour": morning + timedelta(hours=hour),
                            "connections": rng.randint(0, 40),
                        }
                    )
                portal_days.append(
                    {
                        "device_id": device["id"],
                        "site_id": site_id,
                        "day": morning.date(),
                        "unique_devices": rng.randint(5, 150),
                        "peak_clients": rng.randint(1, 40),
                        "clients_now": 0,
                    }
                )
        flush()
    flush(force=True)
    return (first + timedelta(days=days - 1)).date()


# --- the same answers from raw rows -------------------------------------------------------------


def raw_ranking(session: Session, selection: figures.Selection, period: figures.Period) -> Any:
    ids = selection.site_ids
    inside = (PcSession.site_id.in_(ids), PcSession.started_at >= period.start)
    return (
        session.execute(
            select(PcSession.site_id, func.count(), func.sum(PcSession.duration_s))
            .where(*inside, PcSession.started_at < period.end)
            .group_by(PcSession.site_id)
        ).all(),
        session.execute(
            select(ChargingSession.site_id, func.count(), func.sum(ChargingSession.duration_s))
            .where(
                ChargingSession.site_id.in_(ids),
                ChargingSession.started_at >= period.start,
                ChargingSession.started_at < period.end,
            )
            .group_by(ChargingSession.site_id)
        ).all(),
        session.execute(
            select(PortalHour.site_id, func.sum(PortalHour.connections))
            .where(
                PortalHour.site_id.in_(ids),
                PortalHour.hour >= period.start,
                PortalHour.hour < period.end,
            )
            .group_by(PortalHour.site_id)
        ).all(),
    )


def _sessions(session: Session, site_ids: list[int], period: figures.Period) -> Iterator[Any]:
    return iter(
        session.execute(
            select(PcSession.device_id, PcSession.started_at, PcSession.ended_at).where(
                PcSession.site_id.in_(site_ids),
                PcSession.ended_at > period.start,
                PcSession.started_at < period.end,
            )
        )
    )


def raw_days(session: Session, selection: figures.Selection, period: figures.Period) -> Any:
    local = rollups.LocalTime.of(TIMEZONE)
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for _device, started, ended in _sessions(session, selection.site_ids, period):
        if started >= period.start:
            days[local.day(started)][0] += 1
        for hour, seconds in rollups.hour_pieces(
            max(started, period.start), min(ended, period.end)
        ):
            days[local.day(hour)][1] += seconds
    return days


def raw_week(session: Session, selection: figures.Selection, period: figures.Period) -> Any:
    local = rollups.LocalTime.of(TIMEZONE)
    week: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for _device, started, ended in _sessions(session, selection.site_ids, period):
        if started >= period.start:
            week[local.weekhour(started)][0] += 1
        for hour, seconds in rollups.hour_pieces(
            max(started, period.start), min(ended, period.end)
        ):
            week[local.weekhour(hour)][1] += seconds
    return week


def raw_devices(session: Session, selection: figures.Selection, period: figures.Period) -> Any:
    one_site = [selection.sites[0].id]
    devices: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for device, started, ended in _sessions(session, one_site, period):
        devices[device][0] += started >= period.start
        devices[device][1] += int(
            (min(ended, period.end) - max(started, period.start)).total_seconds()
        )
    return devices


# --- timing -------------------------------------------------------------------------------------


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    """p50 and p95 of ``run``'s duration in milliseconds (one warm-up run first)."""
    run()
    durations = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        durations.append((time.perf_counter() - began) * 1000)
    durations.sort()
    return statistics.median(durations), durations[
        min(len(durations) - 1, int(0.95 * len(durations)))
    ]


@dataclass(frozen=True)
class Timing:
    """One query's figures on one backend: p50 and p95 from the rollups, and from raw rows."""

    query: str
    days: int
    p50: float
    p95: float
    raw: tuple[float, float] | None


def bench(url: str, label: str, args: argparse.Namespace) -> list[Timing]:
    migrate.upgrade(url)
    database = Database(url)
    local = rollups.LocalTime.of(TIMEZONE)
    policy = SchedulePolicy(timezone=TIMEZONE)
    began = time.perf_counter()
    with database.session() as session:
        last_day = generate(session, args.devices, args.days)
    generated = time.perf_counter() - began
    began = time.perf_counter()
    with database.session() as session:
        done = rollups.rebuild(session, local, policy)
    rebuilt = time.perf_counter() - began
    with database.session() as session:
        rows = session.scalar(select(func.count()).select_from(DeviceHour))
        months = session.scalar(select(func.count()).select_from(SiteWeekHour))
    print(
        f"\n{label}: {args.devices} devices, {args.days} days: {done.pc_sessions:,} sessions, "
        f"{done.charging_sessions:,} phones, {done.wifi_hours:,} wifi hours generated in "
        f"{generated:.0f} s; rollups rebuilt in {rebuilt:.0f} s ({rows:,} device-hours, "
        f"{months:,} site-month hours of the week)"
    )
    print(
        f"{'query':<34}{'period':>8}{'rollups p50':>13}{'p95':>9}{'raw p50':>11}{'p95':>9}  target"
    )
    timings = []
    with database.session(writes=False) as session:
        organisation = session.scalars(select(Organisation)).one()
        sites = tuple(session.scalars(select(Site).order_by(Site.name)))
        whole = figures.Selection(sites, organisation)
        one_site = figures.Selection((whole.sites[0],), organisation, whole.sites[0])
        for days in (30, args.days):
            period = figures.period_of(last_day - timedelta(days=days - 1), last_day, local)
            cases = [
                (
                    "sites ranked (whole city)",
                    lambda p=period: figures.site_ranking(session, whole, p),
                    lambda p=period: raw_ranking(session, whole, p),
                ),
                (
                    "day by day (whole city)",
                    lambda p=period: figures.daily(session, whole, p),
                    lambda p=period: raw_days(session, whole, p),
                ),
                (
                    "hours of the week (whole city)",
                    lambda p=period: figures.week_grid(session, whole, p),
                    lambda p=period: raw_week(session, whole, p),
                ),
                (
                    "a site's devices",
                    lambda p=period: figures.device_table(session, one_site, p),
                    lambda p=period: raw_devices(session, one_site, p),
                ),
                (
                    "the whole page (whole city)",
                    lambda p=period: figures.figures_of(session, whole, p),
                    None,
                ),
                (
                    "the whole page (one site)",
                    lambda p=period: figures.figures_of(session, one_site, p),
                    None,
                ),
            ]
            for name, rolled, raw in cases:
                p50, p95 = timed(rolled, args.repeat)
                raw_times = None if raw is None else timed(raw, max(3, args.repeat // 5))
                timings.append(Timing(name, days, p50, p95, raw_times))
                raw_cells = "" if raw_times is None else "{:>11.1f}{:>9.1f}".format(*raw_times)
                cells = f"{p50:>13.1f}{p95:>9.1f}{raw_cells or ' ' * 20}"
                print(f"{name:<34}{days:>6} d{cells}  {verdict(p95)}")
    database.dispose()
    return timings


def verdict(p95: float) -> str:
    return "ok" if p95 < TARGET_MS else f"OVER {TARGET_MS} ms"


def summary(results: dict[str, list[Timing]]) -> None:
    """Every query on every backend side by side, p50 / p95 in ms, beside the raw rows' time
    and the target."""
    labels = list(results)
    print(
        f"\nSummary, p50 / p95 in ms (raw: the same answer from the raw rows); target p95 < "
        f"{TARGET_MS} ms"
    )
    header = f"{'query':<34}{'period':>8}"
    for label in labels:
        header += f"{label:>18}{label + ' raw':>22}"
    print(header + "  target")
    for index, first in enumerate(results[labels[0]]):
        line = f"{first.query:<34}{first.days:>6} d"
        worst = 0.0
        for label in labels:
            timing = results[label][index]
            worst = max(worst, timing.p95)
            raw = "" if timing.raw is None else "{:.0f} / {:.0f}".format(*timing.raw)
            line += f"{f'{timing.p50:.1f} / {timing.p95:.1f}':>18}{raw:>22}"
        print(f"{line}  {verdict(worst)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=500, help="devices in the city (500)")
    parser.add_argument("--days", type=int, default=365, help="days of data, to yesterday (365)")
    parser.add_argument("--repeat", type=int, default=20, help="runs of each query (20)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    load_models()
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        results["SQLite"] = bench(f"sqlite:///{scratch}/stats.sqlite3", "SQLite", args)
    if not args.no_postgres:
        with contextlib.ExitStack() as stack:
            base = stack.enter_context(postgres_server())
            results["PostgreSQL"] = bench(create_database(base, "borne_stats"), "PostgreSQL", args)
    summary(results)


if __name__ == "__main__":
    main()
