"""Public PCs: residents' sessions (anonymous), the wipe reports that prove each reset, and the
session limits of each site's PCs."""

from __future__ import annotations

from flask import Flask

from controller import audit
from controller.api import add_api
from controller.i18n import _l
from controller.web.panels import Panel, add_panel


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from agent.protocol import SessionRecord, WipeReport
    from controller.fleet.enrolment import add_starting_settings
    from controller.fleet.ingest import ingest_of
    from controller.public_pcs import service, web
    from controller.public_pcs.api import public_pcs_api

    app.register_blueprint(web.public_pcs_web)
    add_api(app, public_pcs_api)
    add_panel(app, "device", Panel("wipes", "public_pcs/_wipes_panel.html", web.wipes_panel, 50))
    add_panel(app, "site", Panel("sessions", "public_pcs/_limits_panel.html", web.limits_panel, 50))
    handlers = ingest_of(app).handlers
    handlers.add(SessionRecord, service.session_event)
    handlers.add(WipeReport, service.wipe_event)
    add_starting_settings(app, service.limits_at_enrolment)
    audit.describe_actions(app, {"site.session_limits": _l("Session limits changed")})
