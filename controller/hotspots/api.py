"""Staff API for wifi hotspots: their captive portal's settings and the code of the day."""

from __future__ import annotations

from typing import Annotated

import msgspec
from flask import Blueprint, Response, current_app

from agent.protocol import PortalModeName
from controller.accounts.current import signed_in
from controller.accounts.models import User
from controller.api.io import documented, json_response, parse_body
from controller.commands.delivery import send_now
from controller.commands.models import CommandState
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.fleet import service as fleet
from controller.fleet.models import Device
from controller.hotspots import service as hotspot_portal

hotspots_api = Blueprint("hotspots", __name__)

SessionMinutes = Annotated[
    int, msgspec.Meta(ge=hotspot_portal.SESSION_MIN[0], le=hotspot_portal.SESSION_MIN[1])
]


class PortalIn(msgspec.Struct, forbid_unknown_fields=True):
    mode: PortalModeName
    follow_site_hours: bool  # closed outside the site's opening hours
    session_min: SessionMinutes


class PortalOut(msgspec.Struct):
    device_id: str
    # False: never set from the controller; the hotspot follows its own settings file, and the
    # other fields are the defaults a first PUT starts from.
    managed: bool
    mode: PortalModeName
    follow_site_hours: bool
    session_min: int
    opening_hours: str  # set for the hotspot (OpenStreetMap syntax); "" is open at all hours
    code_of_the_day: str | None  # "123 456", in code mode only
    # The state of the command carrying these settings: "done" once the hotspot has them;
    # until then (or after "failed"/"expired") it may run older ones. null when not managed.
    delivery: CommandState | None = None
    delivery_note: str = ""  # the hotspot's answer when it failed
    commands: list[str] = []  # after a PUT: the update_config command sent to the hotspot


def _portal_out(user: User, device: Device, commands: list[str] | None = None) -> PortalOut:
    view = hotspot_portal.view_portal(
        db_session(), user, device, timezone=settings_of(current_app).timezone, now=utcnow()
    )
    return PortalOut(
        device.id,
        view.managed,
        view.mode,
        view.follow_site_hours,
        view.session_min,
        view.opening_hours,
        view.code_of_the_day,
        view.delivery,
        view.delivery_note,
        commands or [],
    )


@hotspots_api.get("/devices/<device_id>/portal")
@documented(
    "A hotspot's captive portal: its mode, hours, connection length and the code of the day",
    response=PortalOut,
    auth="staff",
    errors={400: "not a hotspot", 403: "outside your places", 404: "no such device"},
)
def get_portal(device_id: str) -> Response:
    user = signed_in()
    return json_response(_portal_out(user, fleet.get_device(db_session(), user, device_id)))


@hotspots_api.put("/devices/<device_id>/portal")
@documented(
    "Set how residents get on a hotspot's wifi, and tell the hotspot",
    body=PortalIn,
    response=PortalOut,
    auth="staff",
    errors={
        400: "not a hotspot",
        403: "not allowed",
        404: "no such device",
        422: "unknown mode or length out of range",
    },
)
def put_portal(device_id: str) -> Response:
    body = parse_body(PortalIn)
    session = db_session()
    user = signed_in()
    device = fleet.get_device(session, user, device_id)
    issued = hotspot_portal.set_portal(
        session,
        user,
        device,
        mode=body.mode,
        follow_site_hours=body.follow_site_hours,
        session_min=body.session_min,
        timezone=settings_of(current_app).timezone,
    )
    session.commit()
    send_now(issued)
    return json_response(_portal_out(user, device, [c.id for c in issued]))
