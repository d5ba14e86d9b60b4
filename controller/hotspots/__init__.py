"""Wifi hotspots: their captive portal set from the controller (one tap, the code of the day, or
closed; hours; connection length) and its usage, aggregates only."""

from __future__ import annotations

import logging

from flask import Flask, current_app, has_app_context

from agent.protocol import DeviceKind
from controller import audit, signals
from controller.api import add_api
from controller.context import database_of, settings_of
from controller.i18n import _l
from controller.metrics import add_collector
from controller.web.panels import Panel, add_panel, add_row_extra

log = logging.getLogger(__name__)


def tell_hotspots_new_hours(sender: str, *, site_id: int, **_ignored: object) -> None:
    """Send a site's hotspots that close outside its hours the new opening hours
    (``signals.site_hours_changed``, heard once the change on the hours page is committed), and
    push them at once. The command line's places import tells them itself."""
    if not has_app_context():
        return
    from controller.commands.delivery import push_commands
    from controller.hotspots import service
    from controller.places.models import Site
    from controller.realtime import hub_of

    with database_of(current_app).session() as session:
        site = session.get(Site, site_id)
        if site is None:
            return
        issued = service.site_hours_changed(
            session, "system", site, settings_of(current_app).timezone
        )
    push_commands(hub_of(current_app), issued)


def give_new_hotspot_a_subnet(sender: str, *, kind: str, **_ignored: object) -> None:
    """A hotspot just enrolled gets its client network from the city's address plan
    (``signals.device_enrolled``, heard once committed), so that the plan is whole before anyone
    renders its portal's settings. The API gives one on first read to any that missed it."""
    if kind != DeviceKind.HOTSPOT or not has_app_context():
        return
    from controller.errors import DomainError
    from controller.fleet.models import Device
    from controller.hotspots import address_plan

    settings = settings_of(current_app)
    plan = address_plan.AddressPlan.from_settings(
        settings.hotspot_supernet, settings.hotspot_subnet_prefixlen
    )
    with database_of(current_app).session() as session:
        device = session.get(Device, sender)
        if device is None:
            return
        try:
            address_plan.allocate(session, device, plan)
        except DomainError as exc:  # the range is full: say so, enrolment itself succeeded
            log.warning("hotspot %s has no client network: %s", device.name, exc.message)
            return


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from agent.protocol import PortalStats
    from controller.fleet.enrolment import add_starting_settings
    from controller.fleet.ingest import ingest_of
    from controller.hotspots import service, usage, web
    from controller.hotspots.api import hotspots_api
    from controller.hotspots.metrics import PortalCollector

    app.register_blueprint(web.hotspots_web)
    add_api(app, hotspots_api)
    add_collector(app, PortalCollector(app.extensions["borne.db"], settings_of(app).timezone))
    add_panel(app, "device", Panel("portal", "hotspots/_portal_panel.html", web.portal_panel, 60))
    add_row_extra(app, "site_devices", web.day_codes)
    ingest_of(app).handlers.add(PortalStats, usage.stats_event)
    # What this domain keeps for a hotspot, for the rendered settings (nothing for a new one).
    timezone = settings_of(app).timezone
    add_starting_settings(
        app, lambda session, device: service.hotspot_settings(session, device, timezone=timezone)
    )
    audit.describe_actions(
        app,
        {
            "hotspot.portal": _l("Wifi portal settings changed"),
            "hotspot.subnet": _l("Client network of a hotspot chosen"),
        },
    )
    signals.site_hours_changed.connect(tell_hotspots_new_hours)
    signals.device_enrolled.connect(give_new_hotspot_a_subnet)
