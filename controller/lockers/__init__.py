"""Charging kiosks' lockers: their state as the kiosks report it (never a code), the phones charged
(anonymous), locker incidents as alerts, staff openings in the audit log, a remote opening, and
what each kiosk is told: its site's rules and hours, and the staff's PINs."""

from __future__ import annotations

from functools import partial

from flask import Flask, current_app, has_app_context

from agent.protocol import DeviceKind
from controller import audit, signals
from controller.api import add_api
from controller.i18n import _l
from controller.metrics import add_collector
from controller.web.panels import Panel, add_panel

AUDIT_WORDS = {
    "locker.open": _l("Locker opened by staff"),
    "locker.open_requested": _l("Locker opening asked from the controller"),
    "site.kiosk_settings": _l("Rules of the charging kiosks changed"),
}


def tell_kiosks_new_hours(sender: str, *, site_id: int, **_ignored: object) -> None:
    """Send a site's kiosks its new opening hours (``signals.site_hours_changed``, heard once
    the change is committed), with the rest of what they keep, and push it at once.

    Heard in the app the change was made in (a page's request); the command line has no app,
    and sets no opening hours. One module-level receiver for every app of the process: blinker
    keeps it once, and it acts for the app at hand."""
    if not has_app_context():
        return
    from controller.commands.delivery import push_commands
    from controller.context import database_of, settings_of
    from controller.lockers import settings as kiosk_settings
    from controller.realtime import hub_of

    with database_of(current_app).session() as session:
        issued = kiosk_settings.send_settings(
            session,
            kiosk_settings.SYSTEM,
            [site_id],
            timezone=settings_of(current_app).timezone,
            pushed=True,
        )
    push_commands(hub_of(current_app), issued)


def tell_moved_kiosk(sender: str, *, site_id: int, kind: str, **_ignored: object) -> None:
    """A kiosk moved to another site (``signals.device_moved``, heard once committed) gets that
    site's rules, hours and staff PINs at once."""
    if kind == DeviceKind.KIOSK:
        tell_kiosks_new_hours(sender, site_id=site_id)


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from agent.protocol import ChargingSession, LockerIncident, LockersReport, StaffOpening
    from controller.context import settings_of
    from controller.fleet.condition import Concern, add_concern
    from controller.fleet.enrolment import add_starting_settings
    from controller.fleet.ingest import ingest_of
    from controller.lockers import service, web
    from controller.lockers import settings as kiosk_settings
    from controller.lockers.api import lockers_api
    from controller.lockers.metrics import LockerCollector

    app.register_blueprint(web.lockers_web)
    add_api(app, lockers_api)
    add_panel(app, "device", Panel("lockers", "lockers/_lockers_panel.html", web.lockers_panel, 25))
    add_panel(
        app, "site", Panel("lockers", "lockers/_site_lockers_panel.html", web.site_lockers_panel, 7)
    )
    add_panel(
        app,
        "site",
        Panel(
            "kiosk-settings",
            "lockers/_kiosk_settings_panel.html",
            web.kiosk_settings_panel,
            55,
        ),
    )
    handlers = ingest_of(app).handlers
    handlers.add(LockersReport, service.lockers_event)
    handlers.add(ChargingSession, service.charging_event)
    handlers.add(LockerIncident, service.incident_event)
    handlers.add(StaffOpening, service.staff_opening_event)
    add_concern(app, Concern.LOCKER_TROUBLE, service.devices_with_locker_trouble)
    add_collector(app, LockerCollector(app.extensions["borne.db"]))
    add_starting_settings(
        app, partial(kiosk_settings.at_enrolment, timezone=settings_of(app).timezone)
    )
    signals.site_hours_changed.connect(tell_kiosks_new_hours)
    signals.device_moved.connect(tell_moved_kiosk)
    audit.describe_actions(app, AUDIT_WORDS)
