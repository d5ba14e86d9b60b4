"""Commands: staff (or the schedule) ask a device to act; the device claims, runs, reports.
Their buttons and recent history are panels of the site and device pages."""

from __future__ import annotations

from flask import Flask

from controller import audit
from controller.api import add_api
from controller.i18n import _l
from controller.jobs import add_job
from controller.web.panels import Panel, add_panel


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from agent.protocol import CommandResult
    from controller.commands import web
    from controller.commands.api import commands_api
    from controller.commands.delivery import expire_job, result_event
    from controller.fleet.ingest import ingest_of

    app.register_blueprint(web.commands_web)
    add_api(app, commands_api)
    # The site page starts with its public PCs (public_pcs, 5), each with its own buttons; then
    # what was sent lately; the commands for the whole site come last, apart.
    add_panel(
        app,
        "site",
        Panel("recent-commands", "commands/_site_recent_panel.html", web.site_recent_panel, 12),
    )
    add_panel(app, "site", Panel("commands", "commands/_site_panel.html", web.site_panel, 90))
    add_panel(app, "device", Panel("commands", "commands/_device_panel.html", web.device_panel, 30))
    ingest_of(app).handlers.add(CommandResult, result_event)
    audit.describe_actions(
        app,
        {
            "command.issue": _l("Command sent"),
            "command.result": _l("Command result"),
            "command.expire": _l("Command expired"),
        },
    )
    add_job(
        app, "expire-commands", app.extensions["borne.settings"].housekeeping_interval_s, expire_job
    )
