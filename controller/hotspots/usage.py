"""Hotspots' captive portal statistics: aggregates the hotspot's agent forwards, never addresses.

Hourly and daily counts arrive as running totals ("12 so far this hour"), so a replayed or
reordered report can only raise a count to its true value, never double it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent import protocol
from controller import access
from controller.access import Action, StaffMember
from controller.fleet.models import Device
from controller.hotspots.models import PortalDay, PortalHour, PortalSession


def record_portal_stats(session: Session, device: Device, event: protocol.PortalStats) -> None:
    for item in event.connections_by_hour:
        hour = session.scalars(
            select(PortalHour).where(
                PortalHour.device_id == device.id, PortalHour.hour == item.hour
            )
        ).first()
        if hour is None:
            session.add(
                PortalHour(
                    device_id=device.id,
                    site_id=device.site_id,
                    hour=item.hour,
                    connections=item.connections,
                )
            )
        else:
            hour.connections = max(hour.connections, item.connections)
    day = session.scalars(
        select(PortalDay).where(PortalDay.device_id == device.id, PortalDay.day == event.day)
    ).first()
    if day is None:
        day = PortalDay(
            device_id=device.id,
            site_id=device.site_id,
            day=event.day,
            unique_devices=0,
            peak_clients=0,
        )
        session.add(day)
    day.unique_devices = max(day.unique_devices or 0, event.unique_devices_today)
    day.peak_clients = max(day.peak_clients or 0, event.clients_now)
    day.clients_now = event.clients_now
    for seconds in event.session_lengths_s:
        session.add(
            PortalSession(
                device_id=device.id, site_id=device.site_id, ended_on=event.day, seconds=seconds
            )
        )


def latest_day(session: Session, viewer: StaffMember, device: Device) -> PortalDay | None:
    """The hotspot's latest day of use, for someone who sees the device."""
    access.require(viewer, Action.VIEW_FLEET, device.site)
    return session.scalars(
        select(PortalDay).where(PortalDay.device_id == device.id).order_by(PortalDay.day.desc())
    ).first()


def stats_event(
    session: Session, device: Device, event: protocol.PortalStats, now: datetime
) -> None:
    """The ingest's handler of a hotspot's portal statistics."""
    record_portal_stats(session, device, event)
