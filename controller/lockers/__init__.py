"""Charging kiosks' lockers: their state as the kiosks report it (never a code), the phones charged
(anonymous), locker incidents as alerts, staff openings in the audit log, and a remote opening."""

from __future__ import annotations

from flask import Flask

from controller import audit
from controller.api import add_api
from controller.i18n import _l
from controller.metrics import add_collector
from controller.web.panels import Panel, add_panel

AUDIT_WORDS = {
    "locker.open": _l("Locker opened by staff"),
    "locker.open_requested": _l("Locker opening asked from the controller"),
}


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from agent.protocol import ChargingSession, LockerIncident, LockersReport, StaffOpening
    from controller.fleet.condition import Concern, add_concern
    from controller.fleet.ingest import ingest_of
    from controller.lockers import service, web
    from controller.lockers.api import lockers_api
    from controller.lockers.metrics import LockerCollector

    app.register_blueprint(web.lockers_web)
    add_api(app, lockers_api)
    add_panel(app, "device", Panel("lockers", "lockers/_lockers_panel.html", web.lockers_panel, 25))
    add_panel(
        app, "site", Panel("lockers", "lockers/_site_lockers_panel.html", web.site_lockers_panel, 7)
    )
    handlers = ingest_of(app).handlers
    handlers.add(LockersReport, service.lockers_event)
    handlers.add(ChargingSession, service.charging_event)
    handlers.add(LockerIncident, service.incident_event)
    handlers.add(StaffOpening, service.staff_opening_event)
    add_concern(app, Concern.LOCKER_TROUBLE, service.devices_with_locker_trouble)
    add_collector(app, LockerCollector(app.extensions["borne.db"]))
    audit.describe_actions(app, AUDIT_WORDS)
