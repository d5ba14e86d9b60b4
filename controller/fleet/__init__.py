"""The fleet: devices, their enrolment, the events their agents send (ingest), presence, the
agents' Socket.IO channel, the fleet pages and the device page the other domains add panels to.
"""

from __future__ import annotations

from flask import Flask

from controller import audit
from controller.access import Action
from controller.api import add_api
from controller.i18n import _l
from controller.jobs import add_job
from controller.metrics import add_collector
from controller.realtime import LIVE_NAMESPACE, hub_of
from controller.web.pages import NavItem, add_navigation, set_home
from controller.web.panels import Panel, add_object_page, add_panel

PRUNE_EVERY_S = 3600


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from controller.fleet import web
    from controller.fleet.api import fleet_api
    from controller.fleet.channel import attach_agent_channel, push_queued_job
    from controller.fleet.ingest import EventIngest, HeartbeatHistory, prune_events_job
    from controller.fleet.limits import DeviceLimits
    from controller.fleet.live import LiveChannel, live_updates_sender
    from controller.fleet.metrics import ConnectionsCollector, FleetCollector
    from controller.fleet.presence import mark_offline_job

    settings = app.extensions["borne.settings"]
    database = app.extensions["borne.db"]
    hub = hub_of(app)
    ingest = EventIngest(
        database,
        on_flushed=live_updates_sender(hub),
        spawn=hub.start_background_task,
        history=HeartbeatHistory(settings.heartbeat_history_s),
        limits=DeviceLimits(
            events_per_s=settings.device_events_per_s,
            bytes_per_day=settings.device_bytes_per_day,
        ),
        linger_s=settings.flush_linger_ms / 1000,
    )
    app.extensions["borne.ingest"] = ingest
    channel = attach_agent_channel(hub, database, ingest)
    app.extensions["borne.agent_channel"] = channel
    hub.on_namespace(LiveChannel(LIVE_NAMESPACE))

    app.register_blueprint(web.fleet_web)
    audit.describe_actions(
        app,
        {
            "device.enrol": _l("Device enrolled"),
            "device.move": _l("Device moved to another site"),
            "device.rename": _l("Device renamed"),
            "device.retire": _l("Device retired"),
            "device.secret_rotation_requested": _l("New device secret asked for"),
            "device.secret_rotated": _l("Device secret changed"),
            "device.sequence_restarted": _l("Device started its events again (lost spool)"),
            "token.create": _l("Enrolment token created"),
            "token.revoke": _l("Enrolment token revoked"),
        },
    )
    audit.name_targets(app, "device", web.device_names)
    set_home(app, "fleet.index")
    add_api(app, fleet_api)
    add_collector(app, FleetCollector(database))
    add_collector(app, ConnectionsCollector(channel))
    add_navigation(
        app,
        NavItem(
            "fleet.index",
            _l("Fleet"),
            "layout-dashboard",
            Action.VIEW_FLEET,
            10,
            ("places.site", "fleet.device"),
        ),
    )
    add_navigation(
        app, NavItem("fleet.tokens", _l("Enrolment"), "key-round", Action.ENROL_DEVICE, 20)
    )
    add_object_page(app, "device", web.render_device_page)
    add_panel(app, "device", Panel("status", "fleet/_status_panel.html", web.status_panel, 20))
    add_panel(app, "device", Panel("details", "fleet/_details_panel.html", web.details_panel, 70))
    add_panel(app, "device", Panel("secret", "fleet/_secret_panel.html", web.secret_panel, 90))
    add_panel(app, "device", Panel("manage", "fleet/_manage_panel.html", web.manage_panel, 95))
    add_panel(
        app, "site", Panel("devices", "fleet/_site_devices_panel.html", web.site_devices_panel, 20)
    )

    every = settings.housekeeping_interval_s
    add_job(app, "push-queued-commands", every, push_queued_job)
    add_job(app, "mark-offline", every, mark_offline_job)
    add_job(app, "prune-events", PRUNE_EVERY_S, prune_events_job, first_after_s=every)
