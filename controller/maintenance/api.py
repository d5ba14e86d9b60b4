"""Staff API for maintenance: the open alerts of the places the caller covers."""

from __future__ import annotations

from datetime import datetime

import msgspec
from flask import Blueprint, Response

from controller.accounts.current import signed_in
from controller.api.io import documented, json_response
from controller.context import db_session
from controller.maintenance import service as alerts

maintenance_api = Blueprint("maintenance", __name__)


class AlertOut(msgspec.Struct):
    id: int
    kind: str
    device_id: str
    site_id: int
    message: str
    raised_at: datetime


@maintenance_api.get("/alerts")
@documented("Open alerts of the places the caller covers", response=list[AlertOut], auth="staff")
def list_alerts() -> Response:
    return json_response(
        [
            AlertOut(a.id, a.kind, a.device_id, a.site_id, a.message, a.raised_at)
            for a in alerts.open_alerts(db_session(), signed_in())
        ]
    )
