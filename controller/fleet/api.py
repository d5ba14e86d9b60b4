"""The fleet's API: agents enrol, send their events and fetch their commands over HTTP (the
fallback of the Socket.IO channel); staff read devices and make enrolment tokens."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from flask import Blueprint, Response, current_app, request

from agent.protocol import (
    FEATURES_HEADER,
    ClaimAnswer,
    CommandMessage,
    DeviceKind,
    EnrolRequest,
    EnrolResponse,
    EventAck,
    EventBatch,
    NewSecret,
    ack_for,
    features_of,
)
from controller.accounts.current import signed_in
from controller.api.io import (
    RowId,
    basic_credentials,
    documented,
    error_response,
    json_response,
    parse_body,
)
from controller.commands import service as commands
from controller.context import db_session, settings_of
from controller.db import write_transaction
from controller.errors import DomainError
from controller.fleet import enrolment
from controller.fleet import service as fleet
from controller.fleet.enrolment import authenticate_device
from controller.fleet.ingest import EventsRefused, IngestUnavailable
from controller.fleet.limits import DeviceOverLimit
from controller.fleet.models import Device
from controller.places import service as places

fleet_api = Blueprint("fleet", __name__)


class DeviceOut(msgspec.Struct):
    id: str
    name: str
    kind: str
    site_id: int
    status: str
    enrolled_at: datetime
    last_seen_at: datetime | None
    heartbeat_interval_s: int
    metrics: dict[str, Any]
    inventory: dict[str, Any]


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    site_id: RowId
    kind: DeviceKind | None = None
    ttl_hours: Annotated[float, msgspec.Meta(gt=0, le=720)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=200)] = ""


class TokenOut(msgspec.Struct):
    token: str
    site_id: int
    kind: str | None
    expires_at: datetime


def _device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        name=device.name,
        kind=device.kind,
        site_id=device.site_id,
        status=device.status,
        enrolled_at=device.enrolled_at,
        last_seen_at=device.last_seen_at,
        heartbeat_interval_s=device.heartbeat_interval_s,
        metrics=device.metrics or {},
        inventory=device.inventory or {},
    )


@fleet_api.get("/devices")
@documented(
    "Devices the caller covers; ?site_id= narrows to one site",
    response=list[DeviceOut],
    auth="staff",
    errors={400: "bad site_id"},
)
def list_devices() -> Response:
    raw = request.args.get("site_id")
    if raw is not None and not raw.isdigit():
        raise DomainError(f"site_id must be a number, got {raw!r}")
    devices = fleet.list_devices(db_session(), signed_in(), int(raw) if raw else None)
    return json_response([_device_out(d) for d in devices])


@fleet_api.get("/devices/<device_id>")
@documented(
    "One device, with its latest metrics and inventory",
    response=DeviceOut,
    auth="staff",
    errors={404: "no such device", 403: "outside your places"},
)
def get_device(device_id: str) -> Response:
    return json_response(_device_out(fleet.get_device(db_session(), signed_in(), device_id)))


@fleet_api.post("/enrolment-tokens")
@documented(
    "Create a one-time enrolment token for a site",
    body=TokenIn,
    response=TokenOut,
    status=201,
    auth="staff",
    errors={403: "not allowed", 404: "no such site"},
)
def create_token() -> Response:
    body = parse_body(TokenIn)
    user = signed_in()
    session = db_session()
    site = places.find_site(session, body.site_id)
    ttl_hours = body.ttl_hours or settings_of(current_app).enrolment_token_ttl_hours
    issued = enrolment.create_token(
        session, user, site, ttl=timedelta(hours=ttl_hours), kind=body.kind, note=body.note
    )
    session.commit()
    return json_response(
        TokenOut(issued.token, site.id, issued.record.kind, issued.record.expires_at), 201
    )


@fleet_api.post("/agent/events")
@documented(
    "Send agent events (HTTP fallback of the Socket.IO channel)",
    body=EventBatch,
    response=EventAck,
    auth="device",
    errors={
        401: "unknown device or wrong secret",
        422: "invalid event",
        429: "more than the device may send: send again later",
        503: "not stored",
    },
)
def post_events() -> Response:
    device_id, secret = basic_credentials()
    session = db_session()
    device = authenticate_device(session, device_id, secret)
    session.commit()  # a new secret's first use promotes it; the writer sees that
    session.close()  # the writer uses its own transaction; do not hold this one open meanwhile
    # Same code as the Socket.IO channel's refusal, so the agent drops the batch either way.
    batch = parse_body(EventBatch, invalid_code="invalid_event")
    try:
        ack = current_app.extensions["borne.ingest"].submit(device.id, batch.events)
    except EventsRefused as exc:
        return error_response(422, "invalid_event", str(exc))
    except DeviceOverLimit as exc:
        response = error_response(429, "rate_limited", str(exc))
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return response
    except IngestUnavailable as exc:
        return error_response(503, "unavailable", str(exc))
    return json_response(ack_for(ack, features_of(request.headers.get(FEATURES_HEADER, ""))))


def _device() -> str:
    device_id, secret = basic_credentials()
    return authenticate_device(db_session(), device_id, secret).id


@fleet_api.get("/agent/commands")
@documented(
    "Commands waiting for this device (HTTP fallback of the push)",
    response=list[CommandMessage],
    auth="device",
    errors={401: "unknown device or wrong secret"},
)
def pending_commands() -> Response:
    session = write_transaction(db_session())  # a GET that writes: the commands go "sent"
    pending = commands.pending_for(session, _device())
    commands.mark_sent(session, [c.id for c in pending])
    session.commit()
    return json_response([commands.message_for(c) for c in pending])


@fleet_api.post("/agent/commands/<command_id>/claim")
@documented(
    "Claim a command before running it: granted once, never after expiry",
    response=ClaimAnswer,
    auth="device",
    errors={
        401: "unknown device or wrong secret",
        404: "unknown command",
        409: "already claimed",
        410: "expired",
    },
)
def claim_command(command_id: str) -> Response:
    session = db_session()
    answer = commands.claim(session, _device(), command_id)
    session.commit()
    if answer.ok:
        return json_response(answer)
    status = {"unknown": 404, "claimed": 409, "expired": 410}.get(answer.reason, 409)
    return error_response(status, answer.reason, answer.message)


@fleet_api.post("/agent/secret")
@documented(
    "A new secret for this device, when staff asked for one; the current secret keeps working "
    "until the new one is first used",
    response=NewSecret,
    auth="device",
    errors={
        401: "unknown device or wrong secret",
        409: "nobody asked for a new secret",
    },
)
def new_secret() -> Response:
    device_id, secret = basic_credentials()
    session = db_session()
    device = authenticate_device(session, device_id, secret)
    session.commit()  # the first use of a pending secret promotes it, whatever follows
    fresh = enrolment.issue_new_secret(write_transaction(session), device)
    session.commit()  # stored before it is sent: the device may use it as soon as it has it
    response = json_response(NewSecret(device_secret=fresh))
    response.headers["Cache-Control"] = "no-store"
    return response


@fleet_api.post("/enrol")
@documented(
    "Enrol a device with a one-time token",
    body=EnrolRequest,
    response=EnrolResponse,
    status=201,
    errors={
        403: "unknown token",
        409: "token already used",
        410: "token expired",
        422: "invalid request",
    },
)
def enrol() -> Response:
    body = parse_body(EnrolRequest)
    session = db_session()
    answer = enrolment.enrol(
        session,
        body,
        heartbeat_interval_s=settings_of(current_app).heartbeat_interval_s,
        starting_settings=enrolment.starting_settings_of(current_app),
    )
    session.commit()
    return json_response(answer, 201)
