"""Alerts: what staff must look at, raised by monitoring and resolved when the cause goes away.

One open alert per (device, kind) at most: a device that keeps failing the same way does not
bury the list. A new alert opens a ticket for its device's team, or joins the device's ticket
still open (:mod:`controller.maintenance.tickets`); when the last alert of a ticket resolves
itself, the ticket says its cause is gone. Raising and resolving are also announced with
blinker signals once committed, for the live pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from controller import access, signals
from controller.access import Action
from controller.audit import Actor
from controller.config import ControllerSettings
from controller.context import settings_of
from controller.fleet.models import Device, DeviceStatus
from controller.maintenance.models import Alert, AlertKind
from controller.places import service as places
from controller.places.models import Site


def raise_alert(
    session: Session,
    device: Device,
    kind: AlertKind,
    message: str,
    now: datetime,
    *,
    timezone: str | None = None,
) -> Alert:
    """Open an alert for ``device`` and put it on a ticket, or refresh the message of the one
    already open. ``timezone``: the sites' (setting ``timezone``), for the ticket's due times."""
    from controller.maintenance import tickets

    alert = open_alert(session, device.id, kind)
    if alert is None:
        alert = Alert(kind=kind, device_id=device.id, site_id=device.site_id, message=message[:500])
        alert.raised_at = now
        alert.device = device
        session.add(alert)
        session.flush()
        tickets.ticket_for_alert(session, alert, timezone or sites_timezone(), now)
        signals.send_after_commit(
            session, signals.alert_raised, device.id, alert_id=alert.id, kind=kind, message=message
        )
    else:
        alert.message = message[:500]
    return alert


def resolve_alert(
    session: Session, device_id: str, kind: AlertKind, resolution: str, now: datetime
) -> Alert | None:
    """Close the open alert of that kind, if any, and tell its ticket; returns it."""
    from controller.maintenance import tickets

    alert = open_alert(session, device_id, kind)
    if alert is not None:
        alert.resolved_at = now
        alert.resolution = resolution[:200]
        tickets.alert_gone(session, alert, now)
        signals.send_after_commit(
            session, signals.alert_resolved, device_id, alert_id=alert.id, kind=kind
        )
    return alert


def sites_timezone() -> str:
    """The sites' time zone: the app's setting, or the default outside an app."""
    if has_app_context():
        return settings_of(current_app).timezone
    return ControllerSettings.timezone


def open_alert(session: Session, device_id: str, kind: AlertKind) -> Alert | None:
    return session.scalars(
        select(Alert).where(
            Alert.device_id == device_id, Alert.kind == kind, Alert.resolved_at.is_(None)
        )
    ).first()


def open_alerts(session: Session, viewer: Actor, device_id: str | None = None) -> list[Alert]:
    """The open alerts ``viewer`` may see, newest first; ``device_id`` narrows to one device.

    A member of staff sees those of the places they cover (city-wide roles, all); the command
    line and the system see every one.
    """
    query = select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.raised_at.desc())
    if not isinstance(viewer, str):
        access.require(viewer, Action.VIEW_FLEET)
        if not access.is_city_wide(viewer):
            visible = places.visible_sites_query(viewer).with_only_columns(Site.id)
            query = query.where(Alert.site_id.in_(visible))
    if device_id is not None:
        query = query.where(Alert.device_id == device_id)
    return list(session.scalars(query))


CLOCK_TOLERANCE = timedelta(minutes=1)


def clock_offset(device: Device) -> timedelta | None:
    """How far the device's clock is ahead (negative: behind), from its latest heartbeat: the
    time it claimed against the time the controller received it. None before any."""
    metrics = device.metrics or {}
    try:
        claimed = datetime.fromisoformat(metrics["at"])
        received = datetime.fromisoformat(metrics["received_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return claimed - received


def check_clocks(session: Session, now: datetime) -> None:
    """Raise a clock alert for each online device more than a minute off; resolve those whose
    clock is right again. A device replaying heartbeats spooled during an outage looks behind
    until its live ones arrive, a heartbeat interval later: the alert then resolves itself."""
    devices = session.scalars(
        select(Device).where(Device.status == DeviceStatus.ONLINE).options(undefer(Device.metrics))
    )
    open_now = set(
        session.scalars(
            select(Alert.device_id).where(
                Alert.kind == AlertKind.CLOCK_OFF, Alert.resolved_at.is_(None)
            )
        )
    )
    for device in devices:
        offset = clock_offset(device)
        if offset is None:
            continue
        if abs(offset) > CLOCK_TOLERANCE:
            way = "ahead" if offset > timedelta(0) else "behind"
            raise_alert(
                session,
                device,
                AlertKind.CLOCK_OFF,
                f"The clock of {device.name} is {offset_words(abs(offset))} {way} of the "
                "controller's: schedules and session limits go wrong by as much. Check its time "
                "synchronisation (NTP).",
                now,
            )
        elif device.id in open_now:
            resolve_alert(session, device.id, AlertKind.CLOCK_OFF, "its clock is right again", now)


def offset_words(offset: timedelta) -> str:
    """A clock's offset as people write it in both languages: "6 min 12 s", "1 h 3 min"."""
    minutes, seconds = divmod(int(offset.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
