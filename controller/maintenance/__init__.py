"""Maintenance: alerts raised by monitoring rules, the teams that repair and their tickets, devices
taken out of service, a site's equipment; shown first on a device's page, counted at
``/metrics``, told by e-mail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import select

from controller import audit
from controller.api import add_api
from controller.context import settings_of
from controller.i18n import _l
from controller.jobs import add_job
from controller.metrics import add_collector
from controller.web.panels import Panel, add_panel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from controller.fleet.models import Device


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


def devices_out_of_service(session: Session, devices: Sequence[Device]) -> set[str]:
    """Of ``devices``, those a technician took out of service (their rows are loaded)."""
    return {d.id for d in devices if d.out_of_service_since is not None}


PRUNE_OUTBOX_EVERY_S = 86_400  # once a day: what goes is months old

AUDIT_WORDS = {
    "ticket.open": _l("Ticket opened"),
    "ticket.status": _l("Ticket moved along"),
    "ticket.assign": _l("Ticket assigned"),
    "ticket.comment": _l("Ticket commented"),
    "team.create": _l("Team created"),
    "team.serve": _l("Organisations of a team changed"),
    "team.member_add": _l("Technician joined a team"),
    "team.member_remove": _l("Technician left a team"),
    "device.out_of_service": _l("Device taken out of service"),
    "device.in_service": _l("Device back in service"),
}


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from controller.fleet.condition import Concern, add_concern
    from controller.fleet.enrolment import add_starting_settings
    from controller.maintenance import out_of_service
    from controller.maintenance.api import maintenance_api
    from controller.maintenance.equipment_web import equipment_panel, equipment_web
    from controller.maintenance.mail import mail_job, prune_outbox_job
    from controller.maintenance.metrics import AlertCollector
    from controller.maintenance.rules import ACTION_WORDS as RULE_WORDS
    from controller.maintenance.rules import alert_rules_job
    from controller.maintenance.rules_api import rules_api
    from controller.maintenance.ticket_metrics import TicketCollector
    from controller.maintenance.tickets_api import tickets_api
    from controller.maintenance.tickets_web import (
        device_tickets_panel,
        init_tickets_web,
        site_tickets_panel,
    )
    from controller.maintenance.web import alerts_panel, maintenance_web

    app.register_blueprint(maintenance_web)
    app.register_blueprint(equipment_web)
    add_panel(
        app, "site", Panel("equipment", "maintenance/equipment_panel.html", equipment_panel, 25)
    )
    add_api(app, maintenance_api)
    add_api(app, rules_api)
    add_api(app, tickets_api)
    init_tickets_web(app)
    add_panel(
        app, "device", Panel("tickets", "maintenance/_tickets_panel.html", device_tickets_panel, 15)
    )
    add_panel(
        app, "site", Panel("tickets", "maintenance/_tickets_panel.html", site_tickets_panel, 30)
    )
    add_collector(app, TicketCollector(app.extensions["borne.db"]))
    add_collector(app, AlertCollector(app.extensions["borne.db"]))
    add_panel(app, "device", Panel("alerts", "maintenance/_alerts_panel.html", alerts_panel, 10))
    add_concern(app, Concern.OPEN_ALERT, devices_with_open_alerts)
    add_concern(app, Concern.OUT_OF_SERVICE, devices_out_of_service)
    audit.describe_actions(app, AUDIT_WORDS)
    audit.describe_actions(app, RULE_WORDS)
    add_job(app, "alert-rules", settings_of(app).alert_rules_interval_s, alert_rules_job)
    add_starting_settings(app, out_of_service.service_settings)  # the rendered settings show it
    add_job(app, "mail", settings_of(app).mail_interval_s, mail_job)
    add_job(app, "prune-outbox", PRUNE_OUTBOX_EVERY_S, prune_outbox_job)
