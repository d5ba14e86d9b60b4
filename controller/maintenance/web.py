"""Maintenance on the staff pages: a device's open alerts, first thing on its page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from controller.accounts.current import signed_in
from controller.context import db_session
from controller.fleet.models import Device
from controller.maintenance import service as alerts
from controller.web.panels import Refused

# No page of its own yet: the blueprint serves the panels' templates.
maintenance_web = Blueprint("maintenance", __name__, template_folder="templates")


def alerts_panel(device: Device, refused: Refused | None) -> dict[str, Any] | None:
    found = alerts.open_alerts(db_session(), signed_in(), device_id=device.id)
    return {"alerts": found} if found else None
