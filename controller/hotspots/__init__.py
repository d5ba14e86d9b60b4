"""Wifi hotspots: their captive portal set from the controller (one tap, the code of the day, or
closed; hours; connection length) and its usage, aggregates only."""

from __future__ import annotations

from flask import Flask

from controller import audit
from controller.api import add_api
from controller.context import settings_of
from controller.i18n import _l
from controller.metrics import add_collector
from controller.web.panels import Panel, add_panel, add_row_extra


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from agent.protocol import PortalStats
    from controller.fleet.ingest import ingest_of
    from controller.hotspots import usage, web
    from controller.hotspots.api import hotspots_api
    from controller.hotspots.metrics import PortalCollector

    app.register_blueprint(web.hotspots_web)
    add_api(app, hotspots_api)
    add_collector(app, PortalCollector(app.extensions["borne.db"], settings_of(app).timezone))
    add_panel(app, "device", Panel("portal", "hotspots/_portal_panel.html", web.portal_panel, 60))
    add_row_extra(app, "site_devices", web.day_codes)
    ingest_of(app).handlers.add(PortalStats, usage.stats_event)
    audit.describe_actions(app, {"hotspot.portal": _l("Wifi portal settings changed")})
