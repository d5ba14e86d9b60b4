"""Staff API for charging kiosks' lockers: a kiosk's lockers, those free at a site's kiosks, and
opening one from afar (audited with why)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from flask import Blueprint, Response

from agent.protocol import DoorState, LockerState
from controller.accounts.current import signed_in
from controller.api.io import MAX_ROW_ID, documented, json_response, parse_body
from controller.commands.delivery import send_now
from controller.commands.models import CommandState
from controller.context import db_session
from controller.errors import NotFound
from controller.fleet import service as fleet
from controller.i18n import _
from controller.lockers import service as lockers
from controller.places import service as places

lockers_api = Blueprint("lockers", __name__)


class LockerOut(msgspec.Struct):
    number: int
    state: LockerState
    door: DoorState
    since: datetime  # when it entered ``state``, by the kiosk's clock


class KioskLockersOut(msgspec.Struct):
    device_id: str
    name: str
    free: int
    total: int
    troubled: int  # past their time or out of order: staff should look
    driver_ok: bool  # False: the lock board does not answer, no locker opens
    driver_message: str
    reported_at: datetime | None  # the latest report, by the kiosk's clock; null: none yet
    lockers: list[LockerOut] = []


class OpenLockerIn(msgspec.Struct, forbid_unknown_fields=True):
    # Why it is opened: kept in the audit log with who asked (blank is refused in words).
    reason: Annotated[str, msgspec.Meta(max_length=lockers.REASON_MAX)]


class OpenLockerOut(msgspec.Struct):
    command_id: str  # follow it at GET /commands/{command_id}
    device_id: str
    locker: int
    state: CommandState
    expires_at: datetime


def _kiosk_out(kiosk: lockers.KioskLockers, with_lockers: bool) -> KioskLockersOut:
    bank = kiosk.bank
    return KioskLockersOut(
        device_id=kiosk.device.id,
        name=kiosk.device.name,
        free=kiosk.free,
        total=kiosk.total,
        troubled=kiosk.troubled,
        driver_ok=kiosk.driver_ok,
        driver_message=bank.driver_message if bank else "",
        reported_at=bank.reported_at if bank else None,
        lockers=[
            LockerOut(
                number=locker.number,
                state=LockerState(locker.state),
                door=DoorState(locker.door),
                since=locker.since,
            )
            for locker in kiosk.lockers
        ]
        if with_lockers
        else [],
    )


@lockers_api.get("/devices/<device_id>/lockers")
@documented(
    "A charging kiosk's lockers as it last reported them: state, door, since when (never a code)",
    response=KioskLockersOut,
    auth="staff",
    errors={403: "outside your places", 404: "no such device, or not a charging kiosk"},
)
def get_device_lockers(device_id: str) -> Response:
    session = db_session()
    user = signed_in()
    device = fleet.get_device(session, user, device_id)
    return json_response(_kiosk_out(lockers.lockers_of(session, user, device), True))


@lockers_api.get("/sites/<int:site_id>/lockers")
@documented(
    "The lockers free and in all at each charging kiosk of a site",
    response=list[KioskLockersOut],
    auth="staff",
    errors={403: "outside your places", 404: "no such site"},
)
def get_site_lockers(site_id: int) -> Response:
    if not 1 <= site_id <= MAX_ROW_ID:
        raise NotFound(_("no site %(site)s", site=site_id))
    session = db_session()
    user = signed_in()
    site = places.get_site(session, user, site_id)
    return json_response(
        [_kiosk_out(kiosk, False) for kiosk in lockers.site_lockers(session, user, site)]
    )


@lockers_api.post("/devices/<device_id>/lockers/<int:number>/open")
@documented(
    "Open one locker of a charging kiosk from afar, whatever it holds; audited with the reason",
    body=OpenLockerIn,
    response=OpenLockerOut,
    status=201,
    auth="staff",
    errors={
        403: "outside your places, or your role may not open lockers (mediators open them at "
        "the kiosk with their PIN)",
        404: "no such device, not a charging kiosk, or no such locker",
        409: "the kiosk has not reported its lockers yet",
        422: "no reason given, or a reason too long",
    },
)
def open_locker(device_id: str, number: int) -> Response:
    body = parse_body(OpenLockerIn)
    session = db_session()
    user = signed_in()
    device = fleet.get_device(session, user, device_id)
    command = lockers.request_open(session, user, device, number, body.reason)
    session.commit()
    send_now([command])
    return json_response(
        OpenLockerOut(
            command_id=command.id,
            device_id=device.id,
            locker=number,
            state=CommandState(command.state),
            expires_at=command.expires_at,
        ),
        201,
    )
