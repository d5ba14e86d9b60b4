"""Maintenance on the staff pages: a device's open alerts, first thing on its page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint

from controller.accounts.current import signed_in
from controller.context import db_session
from controller.fleet.models import Device
from controller.i18n import _
from controller.maintenance import service as alerts
from controller.maintenance.models import Alert, AlertKind
from controller.web.panels import Refused

# No page of its own yet: the blueprint serves the panels' templates.
maintenance_web = Blueprint("maintenance", __name__, template_folder="templates")


def alerts_panel(device: Device, refused: Refused | None) -> dict[str, Any] | None:
    found = alerts.open_alerts(db_session(), signed_in(), device_id=device.id)
    return {"alerts": [(alert, alert_text(alert)) for alert in found]} if found else None


def alert_text(alert: Alert) -> str:
    """What an alert says, in the reader's language.

    The stored message stays in English: it is what the API, the signals and the logs carry,
    written when no reader was there. The page says it again from what the alert's kind
    knows; a kind without words here shows the stored message.
    """
    if alert.kind == AlertKind.WIPE_INCOMPLETE:
        return _(
            "The wipe after a reset left something of a resident on this PC: the privacy "
            "wipes below say what."
        )
    if alert.kind == AlertKind.CLOCK_OFF:
        offset = alerts.clock_offset(alert.device)
        if offset is None or abs(offset) <= alerts.CLOCK_TOLERANCE:
            return _(
                "The clock of %(device)s is more than a minute off the controller's: schedules "
                "and session limits go wrong by as much. Check its time synchronisation (NTP).",
                device=alert.device.name,
            )
        if offset > timedelta(0):
            return _(
                "The clock of %(device)s is %(offset)s ahead of the controller's: schedules and "
                "session limits go wrong by as much. Check its time synchronisation (NTP).",
                device=alert.device.name,
                offset=alerts.offset_words(offset),
            )
        return _(
            "The clock of %(device)s is %(offset)s behind the controller's: schedules and "
            "session limits go wrong by as much. Check its time synchronisation (NTP).",
            device=alert.device.name,
            offset=alerts.offset_words(-offset),
        )
    return alert.message
