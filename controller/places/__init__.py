"""Places: organisations, their public places (sites), opening hours, closures, and the schedule
the hours give the PCs (woken before opening, shut down after closing, updated at night)."""

from __future__ import annotations

from flask import Flask

from controller import audit
from controller.i18n import _l
from controller.jobs import add_job
from controller.web.panels import Panel, add_object_page, add_panel

SCHEDULE_EVERY_S = 30  # how often each process looks for the schedule's due actions


def init_app(app: Flask) -> None:
    from controller.api import add_api
    from controller.places import schedule
    from controller.places.api import places_api
    from controller.places.hours import places_hours
    from controller.places.web import places_web, render_site_page, schedule_panel, site_names

    app.register_blueprint(places_web)
    app.register_blueprint(places_hours)
    audit.describe_actions(
        app,
        {
            "places.import": _l("Places imported"),
            "site.closure": _l("Closure added"),
            "site.hours": _l("Opening hours changed"),
            "site.open_data": _l("Open-data fields changed"),
        },
    )
    audit.name_targets(app, "site", site_names)
    add_api(app, places_api)
    add_object_page(app, "site", render_site_page)
    add_panel(app, "site", Panel("schedule", "places/_schedule_panel.html", schedule_panel, 40))
    settings = app.extensions["borne.settings"]
    if settings.schedules:
        add_job(
            app,
            "schedule",
            SCHEDULE_EVERY_S,
            schedule.ScheduleJob(settings.timezone),
            first_after_s=settings.housekeeping_interval_s,
        )
