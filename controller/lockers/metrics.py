"""Charging kiosks' lockers at ``/metrics``, read from the database at scrape time.

``borne_lockers{site,state}`` counts the lockers of the kiosks in service as they last reported
them, every state written out (0 included) for each site with a kiosk, so that "no locker free"
reads as 0 and not as a missing series. ``borne_charging_sessions_total{site}`` counts the phones
charged since the first (a counter: Prometheus' ``increase()`` gives them per day). A scrape
reads one grouped count per table, through the primary key of ``lockers`` and the
``(site_id, started_at)`` index of ``charging_sessions``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from agent.protocol import LockerState
from controller.db import Database
from controller.fleet.models import Device
from controller.lockers.models import ChargingSession, Locker
from controller.places.models import Site


class LockerCollector(Collector):
    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        lockers = GaugeMetricFamily(
            "borne_lockers",
            "Charging lockers by site and state (free, deposit, occupied, overtime, "
            "out_of_order), as their kiosks last reported them",
            labels=["site", "state"],
        )
        sessions = CounterMetricFamily(
            "borne_charging_sessions",
            "Phones charged in a kiosk's locker, by site (anonymous)",
            labels=["site"],
        )
        counts: dict[str, dict[str, int]] = {}
        with self._database.session(writes=False) as session:
            for slug, state, count in session.execute(
                select(Site.slug, Locker.state, func.count())
                .select_from(Locker)
                .join(Device, Device.id == Locker.device_id)
                .join(Site, Site.id == Device.site_id)
                .where(Device.retired_at.is_(None))
                .group_by(Site.slug, Locker.state)
            ):
                counts.setdefault(slug, dict.fromkeys(LockerState, 0))[state] = count
            charged = session.execute(
                select(Site.slug, func.count())
                .select_from(ChargingSession)
                .join(Site, Site.id == ChargingSession.site_id)
                .group_by(Site.slug)
            ).all()
        for slug, by_state in sorted(counts.items()):
            for state, count in by_state.items():
                lockers.add_metric([slug, str(state)], count)
        for slug, count in charged:
            sessions.add_metric([slug], count)
        yield lockers
        yield sessions
