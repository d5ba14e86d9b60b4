"""Alerts: what staff must look at, raised by monitoring and resolved when the cause goes away.

One open alert per (device, kind) at most: a device that keeps failing the same way does not
bury the list. Raising and resolving are announced with blinker signals once committed, so
tickets and notifications plug in without this module knowing them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import access, signals
from controller.access import Action
from controller.audit import Actor
from controller.fleet.models import Device
from controller.maintenance.models import Alert, AlertKind
from controller.places import service as places
from controller.places.models import Site


def raise_alert(
    session: Session, device: Device, kind: AlertKind, message: str, now: datetime
) -> Alert:
    """Open an alert for ``device``, or refresh the message of the one already open."""
    alert = open_alert(session, device.id, kind)
    if alert is None:
        alert = Alert(kind=kind, device_id=device.id, site_id=device.site_id, message=message[:500])
        alert.raised_at = now
        session.add(alert)
        session.flush()
        signals.send_after_commit(
            session, signals.alert_raised, device.id, alert_id=alert.id, kind=kind, message=message
        )
    else:
        alert.message = message[:500]
    return alert


def resolve_alert(
    session: Session, device_id: str, kind: AlertKind, resolution: str, now: datetime
) -> Alert | None:
    """Close the open alert of that kind, if any; returns it."""
    alert = open_alert(session, device_id, kind)
    if alert is not None:
        alert.resolved_at = now
        alert.resolution = resolution[:200]
        signals.send_after_commit(
            session, signals.alert_resolved, device_id, alert_id=alert.id, kind=kind
        )
    return alert


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
