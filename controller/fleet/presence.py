"""Which devices are online: a device is offline once it has missed three heartbeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controller import signals
from controller.context import database_of, settings_of
from controller.db import utcnow
from controller.fleet.models import Device, DeviceStatus
from controller.realtime import emit_to_site, hub_of


@dataclass(frozen=True)
class WentOffline:
    device_id: str
    site_id: int
    last_seen_at: datetime


def is_overdue(last_seen_at: datetime | None, interval_s: int, missed: int, now: datetime) -> bool:
    return last_seen_at is not None and now - last_seen_at > timedelta(seconds=interval_s * missed)


def mark_overdue_offline(
    session: Session, *, missed: int, now: datetime | None = None
) -> list[WentOffline]:
    """Turn online devices that missed ``missed`` heartbeats offline; return them.

    Each device is judged by its own heartbeat interval. Safe in several controller processes at
    once: a row changes only if it is still online with the same last heartbeat.
    """
    now = now or utcnow()
    rows = session.execute(
        select(Device.id, Device.site_id, Device.last_seen_at, Device.heartbeat_interval_s).where(
            Device.status == DeviceStatus.ONLINE
        )
    ).all()
    gone = []
    for row in rows:
        if not is_overdue(row.last_seen_at, row.heartbeat_interval_s, missed, now):
            continue
        result = session.execute(
            update(Device)
            .where(
                Device.id == row.id,
                Device.status == DeviceStatus.ONLINE,
                Device.last_seen_at == row.last_seen_at,
            )
            .values(status=DeviceStatus.OFFLINE, status_changed_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            gone.append(WentOffline(row.id, row.site_id, row.last_seen_at))
    return gone


def mark_offline_job(app: Flask) -> None:
    """The periodic job: devices silent too long go offline; receivers and live pages hear it."""
    settings = settings_of(app)
    with database_of(app).session() as session:
        gone = mark_overdue_offline(session, missed=settings.offline_after_missed)
    hub = hub_of(app)
    for device in gone:
        signals.device_status_changed.send(
            device.device_id,
            old=DeviceStatus.ONLINE,
            new=DeviceStatus.OFFLINE,
            site_id=device.site_id,
        )
        emit_to_site(
            hub,
            "devices",
            [
                {
                    "id": device.device_id,
                    "site_id": device.site_id,
                    "status": DeviceStatus.OFFLINE,
                    "last_seen_at": device.last_seen_at.isoformat(),
                }
            ],
            device.site_id,
        )
