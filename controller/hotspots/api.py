"""Staff API for wifi hotspots: their captive portal's settings and the code of the day."""

from __future__ import annotations

from typing import Annotated

import msgspec
from flask import Blueprint, Response, current_app

from agent.protocol import PortalModeName
from controller import access
from controller.accounts.current import signed_in
from controller.accounts.models import User
from controller.api.io import documented, json_response, parse_body
from controller.commands.delivery import send_now
from controller.commands.models import CommandState
from controller.context import db_session, settings_of
from controller.db import utcnow
from controller.errors import PermissionDenied
from controller.fleet import service as fleet
from controller.fleet.models import Device
from controller.hotspots import address_plan
from controller.hotspots import service as hotspot_portal
from controller.hotspots.models import HotspotSubnet
from controller.i18n import _

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


class SubnetIn(msgspec.Struct, forbid_unknown_fields=True):
    subnet: Annotated[str, msgspec.Meta(min_length=1, max_length=43, examples=["10.64.4.0/22"])]


class SubnetOut(msgspec.Struct):
    device_id: str
    device_name: str
    site: str
    subnet: str  # the hotspot's client network, "10.64.4.0/22"
    chosen: bool  # chosen by a person (else allocated by the controller)
    # What the hotspot's portal settings take from it (captive_portal/settings.py keys).
    client_subnet: str
    listen_address: str


class AddressPlanOut(msgspec.Struct):
    supernet: str  # the range hotspots' client networks are cut from (setting hotspot_supernet)
    prefixlen: int  # the size each is given unless a person chose another
    hotspots: list[SubnetOut]


def _city_plan() -> address_plan.AddressPlan:
    settings = settings_of(current_app)
    return address_plan.AddressPlan.from_settings(
        settings.hotspot_supernet, settings.hotspot_subnet_prefixlen
    )


def _subnet_out(device: Device, row: HotspotSubnet) -> SubnetOut:
    network = address_plan.portal_network(row.subnet)
    return SubnetOut(
        device.id,
        device.name,
        device.site.name,
        row.subnet,
        row.chosen,
        network["client_subnet"],
        network["listen_address"],
    )


@hotspots_api.get("/hotspots/address-plan")
@documented(
    "The city's address plan: every hotspot's client network, in address order",
    response=AddressPlanOut,
    auth="staff",
    errors={403: "not city IT"},
)
def get_address_plan() -> Response:
    user = signed_in()
    if not access.is_city_wide(user):
        raise PermissionDenied(_("only city IT (an administrator) reads the address plan"))
    plan = _city_plan()
    rows = [
        SubnetOut(
            p.device_id,
            p.device_name,
            p.site_name,
            p.subnet,
            p.chosen,
            **address_plan.portal_network(p.subnet),
        )
        for p in address_plan.plan_table(db_session())
    ]
    return json_response(AddressPlanOut(str(plan.supernet), plan.prefixlen, rows))


@hotspots_api.get("/devices/<device_id>/subnet")
@documented(
    "A hotspot's client network (given from the address plan at once if it has none yet)",
    response=SubnetOut,
    auth="staff",
    errors={400: "not a hotspot", 403: "outside your places", 404: "no such device"},
)
def get_subnet(device_id: str) -> Response:
    session = db_session()
    device = fleet.get_device(session, signed_in(), device_id)
    row = address_plan.allocate(session, device, _city_plan())
    session.commit()
    return json_response(_subnet_out(device, row))


@hotspots_api.put("/devices/<device_id>/subnet")
@documented(
    "Give a hotspot the client network city IT chose, checked against the whole plan",
    body=SubnetIn,
    response=SubnetOut,
    auth="staff",
    errors={
        400: "not a network, outside the range, too small, or not a hotspot",
        403: "not city IT",
        404: "no such device",
        409: "overlaps another hotspot's client network",
    },
)
def put_subnet(device_id: str) -> Response:
    body = parse_body(SubnetIn)
    session = db_session()
    user = signed_in()
    device = fleet.get_device(session, user, device_id)
    row = address_plan.choose(session, user, device, body.subnet, _city_plan())
    session.commit()
    return json_response(_subnet_out(device, row))
