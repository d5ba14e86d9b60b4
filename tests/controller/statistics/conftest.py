"""Fixtures of the statistics' tests: usage generated through the ingest as agents send it, and
the same figures computed directly from the raw rows, the reference the rollups must equal."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from agent import protocol
from agent.protocol import ChargingEnd, DeviceKind, SessionEnd
from controller.fleet.ingest import FlushReport, _Pending, write_events
from controller.fleet.models import Device, DeviceStatus
from controller.hotspots.models import PortalHour
from controller.lockers.models import ChargingSession
from controller.places.models import Site
from controller.places.opening_hours import SchedulePolicy, open_intervals
from controller.public_pcs.models import PcSession
from controller.statistics.rollups import LocalTime
from tests.factories import make_device, make_organisation, make_site

PARIS = "Europe/Paris"
# A Monday in winter (UTC+1); the generated weeks cross no clock change.
START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


@pytest.fixture
def local() -> LocalTime:
    return LocalTime.of(PARIS)


@pytest.fixture
def policy() -> SchedulePolicy:
    return SchedulePolicy(timezone=PARIS)


@pytest.fixture
def send_events(db, event_handlers) -> Callable[..., FlushReport]:
    """``send_events(device, *events)``: the events through the ingest, in the test's
    transaction, handled by every domain as the app wires them (statistics included)."""
    seqs: dict[str, int] = defaultdict(int)

    def send(device: Device, *events: Any) -> FlushReport:
        numbered = []
        for event in events:
            seqs[device.id] += 1
            numbered.append(msgspec_replace(event, seq=seqs[device.id]))
        return write_events(db, [_Pending(device.id, numbered)], handlers=event_handlers)

    return send


def msgspec_replace(event: Any, **changes: Any) -> Any:
    import msgspec

    return msgspec.structs.replace(event, **changes)


def session_record(started: datetime, minutes: float, ended_by=SessionEnd.LOGOUT):
    return protocol.SessionRecord(
        seq=0,
        at=started + timedelta(minutes=minutes),
        started_at=started,
        ended_at=started + timedelta(minutes=minutes),
        ended_by=ended_by,
    )


def charging_record(started: datetime, minutes: float, locker: int = 1):
    return protocol.ChargingSession(
        seq=0,
        at=started + timedelta(minutes=minutes),
        locker=locker,
        started_at=started,
        ended_at=started + timedelta(minutes=minutes),
        ended_by=ChargingEnd.CODE,
    )


def portal_stats(hours: dict[datetime, int], day: date, unique: int = 0, clients: int = 0):
    return protocol.PortalStats(
        seq=0,
        at=max(hours) + timedelta(minutes=30) if hours else datetime.now(UTC),
        day=day,
        clients_now=clients,
        unique_devices_today=unique,
        connections_by_hour=[
            protocol.PortalHour(hour=hour, connections=count) for hour, count in hours.items()
        ],
    )


@pytest.fixture
def records():
    """The builders of agents' events: ``records.session(started, minutes, ended_by)``,
    ``records.charging(started, minutes)``, ``records.portal(hours, day, unique, clients)``."""

    class Records:
        session = staticmethod(session_record)
        charging = staticmethod(charging_record)
        portal = staticmethod(portal_stats)

    return Records()


@dataclass
class Usage:
    """What :func:`generate_usage` made."""

    organisation: Any
    sites: list[Site]
    pcs: list[Device]
    kiosks: list[Device]
    hotspots: list[Device]
    first_day: date
    days: int
    wifi: dict[tuple[str, datetime], int] = field(default_factory=dict)


@pytest.fixture
def generate_usage(db, send_events) -> Callable[..., Usage]:
    """``generate_usage(days=14, seed=1)``: two sites of one organisation with public PCs, a
    kiosk and a hotspot, and ``days`` of random sessions, phones charged and wifi reports sent
    through the ingest, some of them across hours, days and the period's ends."""

    def generate(days: int = 14, seed: int = 1) -> Usage:
        rng = random.Random(seed)
        organisation = make_organisation(db)
        sites = [
            make_site(
                db, organisation, name="Bibliothèque Centre", opening_hours="Mo-Sa 09:00-18:00"
            ),
            make_site(db, organisation, name="MDH Mistral", opening_hours="Tu-Fr 13:30-19:00"),
        ]
        enrolled = START - timedelta(days=30)
        pcs = [
            make_device(
                db, site, name=f"pc-{s}-{n}", enrolled_at=enrolled, status=DeviceStatus.ONLINE
            )
            for s, site in enumerate(sites)
            for n in range(3 - s)
        ]
        kiosks = [
            make_device(db, sites[0], kind=DeviceKind.KIOSK, name="kiosk", enrolled_at=enrolled)
        ]
        hotspots = [
            make_device(db, site, kind=DeviceKind.HOTSPOT, name=f"wifi-{s}", enrolled_at=enrolled)
            for s, site in enumerate(sites)
        ]
        usage = Usage(organisation, sites, pcs, kiosks, hotspots, START.date(), days)
        for day in range(-1, days + 1):  # a day before and after: the period's ends cut them
            morning = START + timedelta(days=day, hours=7)
            for pc in pcs:
                at = morning + timedelta(minutes=rng.randint(0, 120))
                for _ in range(rng.randint(0, 7)):
                    length = rng.choice([3, 25, 50, 95, 170.5])
                    ended_by = rng.choice(list(SessionEnd))
                    send_events(pc, session_record(at, length, ended_by))
                    at += timedelta(minutes=length + rng.randint(1, 40))
            for _ in range(rng.randint(0, 6)):
                started = morning + timedelta(minutes=rng.randint(0, 600))
                send_events(kiosks[0], charging_record(started, rng.randint(5, 150)))
            for hotspot in hotspots:
                hours = {
                    morning + timedelta(hours=h): rng.randint(0, 30)
                    for h in range(rng.randint(1, 10))
                }
                # Running totals: an early report with lower counts, then the real ones, then
                # a replay of the early one (it must not lower or double anything).
                early = {hour: count // 2 for hour, count in hours.items()}
                send_events(hotspot, portal_stats(early, morning.date()))
                send_events(hotspot, portal_stats(hours, morning.date(), unique=rng.randint(0, 40)))
                send_events(hotspot, portal_stats(early, morning.date()))
                usage.wifi.update({(hotspot.id, hour): count for hour, count in hours.items()})
        return usage

    return generate


@dataclass
class RawFigures:
    """Per site over a period, straight from the raw rows."""

    pc_sessions: int = 0
    pc_in_use_s: int = 0
    ended_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    charging_sessions: int = 0
    charging_s: int = 0
    wifi_connections: int = 0
    pc_open_s: int = 0


def _overlap(a: datetime, b: datetime, start: datetime, end: datetime) -> int:
    a, b = a.replace(microsecond=0), b.replace(microsecond=0)
    return max(0, int((min(b, end) - max(a, start)).total_seconds()))


@pytest.fixture
def raw_figures(db, policy) -> Callable[..., dict[int, RawFigures]]:
    """``raw_figures(start, end, until)``: per site, what the raw rows say of ``[start, end)``:
    sessions started and their seconds within it, how they ended, phones charged and their
    seconds, wifi connections, and the PCs' opening seconds up to ``until`` (the hours
    settled)."""

    def compute(start: datetime, end: datetime, until: datetime) -> dict[int, RawFigures]:
        figures: dict[int, RawFigures] = defaultdict(RawFigures)
        for row in db.scalars(select(PcSession)):
            f = figures[row.site_id]
            if start <= row.started_at < end:
                f.pc_sessions += 1
                f.ended_by[row.ended_by] += 1
            f.pc_in_use_s += _overlap(row.started_at, row.ended_at, start, end)
        for row in db.scalars(select(ChargingSession)):
            f = figures[row.site_id]
            if start <= row.started_at < end:
                f.charging_sessions += 1
            f.charging_s += _overlap(row.started_at, row.ended_at, start, end)
        for row in db.scalars(select(PortalHour)):
            if start <= row.hour < end:
                figures[row.site_id].wifi_connections += row.connections
        for pc in db.scalars(select(Device).where(Device.kind == DeviceKind.PC)):
            site = db.get(Site, pc.site_id)
            for a, b in open_intervals(
                site.opening_hours, max(start, pc.enrolled_at), min(end, until), policy=policy
            ):
                figures[pc.site_id].pc_open_s += int((b - a).total_seconds())
        return figures

    return compute
