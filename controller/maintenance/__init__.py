"""Maintenance: alerts raised by monitoring (a wipe that left something today; rules, teams and
tickets to come), shown first on a device's page, counted at ``/metrics``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import select

from controller.api import add_api
from controller.jobs import add_job
from controller.metrics import add_collector
from controller.web.panels import Panel, add_panel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from controller.fleet.models import Device

CLOCK_CHECK_EVERY_S = 60


def devices_with_open_alerts(session: Session, devices: Sequence[Device]) -> set[str]:
    """Of ``devices``, those with an alert nobody resolved yet: the fleet's lists say so."""
    from controller.maintenance.models import Alert

    return set(
        session.scalars(
            select(Alert.device_id)
            .where(Alert.device_id.in_([d.id for d in devices]), Alert.resolved_at.is_(None))
            .distinct()
        )
    )


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from controller.fleet.condition import Concern, add_concern
    from controller.maintenance.api import maintenance_api
    from controller.maintenance.metrics import AlertCollector
    from controller.maintenance.service import clock_check_job
    from controller.maintenance.web import alerts_panel, maintenance_web

    app.register_blueprint(maintenance_web)
    add_api(app, maintenance_api)
    add_collector(app, AlertCollector(app.extensions["borne.db"]))
    add_panel(app, "device", Panel("alerts", "maintenance/_alerts_panel.html", alerts_panel, 10))
    add_concern(app, Concern.OPEN_ALERT, devices_with_open_alerts)
    add_job(app, "clock-check", CLOCK_CHECK_EVERY_S, clock_check_job)
