"""The fleet's figures at ``/metrics``, read from the database at scrape time, and the agents
connected to this process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, literal, select

from controller.db import Database, utcnow
from controller.fleet.models import Device
from controller.places.models import Site

if TYPE_CHECKING:
    from controller.fleet.channel import AgentChannel


class FleetCollector(Collector):
    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        devices = GaugeMetricFamily(
            "borne_devices",
            "Devices by site, kind and status (maintenance: out of service, whatever it says)",
            labels=["site", "kind", "status"],
        )
        age = GaugeMetricFamily(
            "borne_device_heartbeat_age_seconds",
            "Seconds since each device's last heartbeat",
            labels=["device", "name", "site", "kind"],
        )
        now = utcnow()
        with self._database.session(writes=False) as session:
            status = case(
                (Device.out_of_service_since.is_not(None), literal("maintenance")),
                else_=Device.status,
            )
            for slug, kind, shown, count in session.execute(
                select(Site.slug, Device.kind, status, func.count())
                .join(Site)
                .where(Device.retired_at.is_(None))
                .group_by(Site.slug, Device.kind, status)
            ):
                devices.add_metric([slug, kind, shown], count)
            for device_id, name, slug, kind, last_seen in session.execute(
                select(Device.id, Device.name, Site.slug, Device.kind, Device.last_seen_at)
                .join(Site)
                .where(Device.last_seen_at.is_not(None))
            ):
                age.add_metric([device_id, name, slug, kind], (now - last_seen).total_seconds())
        yield devices
        yield age


class ConnectionsCollector(Collector):
    """Agents holding a Socket.IO connection to this process. Each process counts its own:
    behind nginx, the figures of all processes show how agents are spread among them."""

    def __init__(self, channel: AgentChannel) -> None:
        self._channel = channel

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "borne_agent_connections",
            "Agents connected to this controller process over Socket.IO",
            value=self._channel.connections,
        )
