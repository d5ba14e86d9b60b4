"""Maintenance: alerts raised by monitoring (a wipe that left something today; rules, teams and
tickets to come), shown first on a device's page, counted at ``/metrics``."""

from __future__ import annotations

from flask import Flask

from controller.api import add_api
from controller.jobs import add_job
from controller.metrics import add_collector
from controller.web.panels import Panel, add_panel

CLOCK_CHECK_EVERY_S = 60


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from controller.maintenance.api import maintenance_api
    from controller.maintenance.metrics import AlertCollector
    from controller.maintenance.service import clock_check_job
    from controller.maintenance.web import alerts_panel, maintenance_web

    app.register_blueprint(maintenance_web)
    add_api(app, maintenance_api)
    add_collector(app, AlertCollector(app.extensions["borne.db"]))
    add_panel(app, "device", Panel("alerts", "maintenance/_alerts_panel.html", alerts_panel, 10))
    add_job(app, "clock-check", CLOCK_CHECK_EVERY_S, clock_check_job)
