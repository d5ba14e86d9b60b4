"""Hotspots' captive portals at ``/metrics``, read from the database at scrape time.

Every figure is per hotspot, labelled like ``borne_device_heartbeat_age_seconds`` (``device``,
``name``, ``site``) so a query can join them. Figures about the portal's use come only for
hotspots the controller hears from (online): an offline hotspot's last report says nothing about
now, and an absent series reads as "unknown" where a stale number would read as fact. Aggregates
only, like everything the hotspots send: no figure can tell one resident from another.

A scrape reads one row per hotspot in each table (this hour's, today's, its settings), through
the ``(device_id, hour)`` and ``(device_id, day)`` unique indexes: its cost grows with the number
of hotspots, never with the months of history kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from agent.protocol import DeviceKind
from controller.db import Database, utcnow
from controller.fleet.models import Device, DeviceStatus
from controller.hotspots.models import HotspotPortal, PortalDay, PortalHour
from controller.places.models import Site

LABELS = ["device", "name", "site"]
# What the hotspot role puts in each heartbeat's state (agent/hotspot.py HotspotRole.state).
PORTAL_STATE = "portal"
PORTAL_RUNNING = "running"
PORTAL_CLIENTS = "portal_clients"


class PortalCollector(Collector):
    """``timezone`` is the controller's: hotspots count their days there (hotspots/service.py
    ``portal_args``), so "today" here is the day their count of distinct devices covers."""

    def __init__(
        self, database: Database, timezone: str, now: Callable[[], datetime] = utcnow
    ) -> None:
        self._database = database
        self._timezone = ZoneInfo(timezone)
        self._now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "borne_portal_up",
            "1 if a hotspot's latest heartbeat says its captive portal runs, 0 if it does not",
            labels=LABELS,
        )
        clients = GaugeMetricFamily(
            "borne_portal_clients",
            "Devices online through a hotspot's captive portal, at its latest heartbeat",
            labels=LABELS,
        )
        connections = GaugeMetricFamily(
            "borne_portal_connections_this_hour",
            "Connections to a hotspot's captive portal so far in the current hour (UTC)",
            labels=LABELS,
        )
        devices_today = GaugeMetricFamily(
            "borne_portal_devices_today",
            "Distinct devices on a hotspot's wifi today (counted on the hotspot, salted daily)",
            labels=LABELS,
        )
        mode = GaugeMetricFamily(
            "borne_portal_mode",
            "1 for the portal mode (click, code, closed) set from the controller for a hotspot",
            labels=[*LABELS, "mode"],
        )
        now = self._now()
        this_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        today = now.astimezone(self._timezone).date()
        with self._database.session(writes=False) as session:
            hotspots = session.execute(
                select(Device.id, Device.name, Site.slug, Device.status, Device.metrics)
                .join(Site)
                .where(Device.kind == DeviceKind.HOTSPOT, Device.retired_at.is_(None))
            ).all()
            online = {row.id for row in hotspots if row.status == DeviceStatus.ONLINE}
            hour_counts = dict(
                session.execute(
                    select(PortalHour.device_id, PortalHour.connections).where(
                        PortalHour.device_id.in_(online), PortalHour.hour == this_hour
                    )
                )
                .tuples()
                .all()
            )
            day_counts = dict(
                session.execute(
                    select(PortalDay.device_id, PortalDay.unique_devices).where(
                        PortalDay.device_id.in_(online), PortalDay.day == today
                    )
                )
                .tuples()
                .all()
            )
            modes = dict(
                session.execute(select(HotspotPortal.device_id, HotspotPortal.mode)).tuples().all()
            )
        for row in hotspots:
            labels = [row.id, row.name, row.slug]
            if row.id in modes:
                mode.add_metric([*labels, modes[row.id]], 1)
            if row.id not in online:
                continue
            # No row for this hour or today: nobody connected yet (the hotspot reports every
            # half minute what changed, so a connection shows within one report).
            connections.add_metric(labels, hour_counts.get(row.id, 0))
            devices_today.add_metric(labels, day_counts.get(row.id, 0))
            running, online_now = _portal_state(row.metrics)
            if running is not None:
                up.add_metric(labels, 1 if running else 0)
            if online_now is not None:
                clients.add_metric(labels, online_now)
        yield from (up, clients, connections, devices_today, mode)


def _portal_state(metrics: dict[str, Any] | None) -> tuple[bool | None, int | None]:
    """Whether the portal runs and its clients, from the heartbeat's state; None where the
    heartbeat does not say (an agent without the hotspot role, or a garbled count)."""
    state = (metrics or {}).get("state") or {}
    if PORTAL_STATE not in state:
        return None, None
    if state[PORTAL_STATE] != PORTAL_RUNNING:
        return False, None
    try:
        count = int(state.get(PORTAL_CLIENTS, ""))
    except ValueError:
        return True, None
    return True, count if count >= 0 else None
