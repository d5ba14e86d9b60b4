"""Staff API: organisations, sites, devices and enrolment tokens, within the caller's scope."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from flask import Response, current_app, request
from flask_login import current_user

from agent.protocol import DeviceKind
from controller import enrolment, fleet, places
from controller.api import api
from controller.api.io import documented, json_response, parse_body
from controller.context import db_session, settings_of
from controller.errors import DomainError, Unauthenticated
from controller.models import Device, User


class OrganisationOut(msgspec.Struct):
    id: int
    name: str


class SiteOut(msgspec.Struct):
    id: int
    slug: str
    name: str
    organisation_id: int
    organisation: str
    address: str
    city: str
    latitude: float | None
    longitude: float | None
    opening_hours: str
    devices: dict[str, int]


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
    site_id: int
    kind: DeviceKind | None = None
    ttl_hours: Annotated[float, msgspec.Meta(gt=0, le=720)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=200)] = ""


class TokenOut(msgspec.Struct):
    token: str
    site_id: int
    kind: str | None
    expires_at: datetime


def staff_user() -> User:
    if not current_user.is_authenticated:
        raise Unauthenticated("sign in first (the API uses the web session)")
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


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


@api.get("/organisations")
@documented("Organisations the caller covers", response=list[OrganisationOut], auth="staff")
def list_organisations() -> Response:
    summaries = fleet.list_sites(db_session(), staff_user())
    seen = {s.site.organisation.id: s.site.organisation for s in summaries}
    return json_response([OrganisationOut(o.id, o.name) for o in seen.values()])


@api.get("/sites")
@documented(
    "Sites the caller covers, with device counts by status", response=list[SiteOut], auth="staff"
)
def list_sites() -> Response:
    return json_response(
        [
            SiteOut(
                id=s.site.id,
                slug=s.site.slug,
                name=s.site.name,
                organisation_id=s.site.organisation_id,
                organisation=s.site.organisation.name,
                address=s.site.address,
                city=s.site.city,
                latitude=s.site.latitude,
                longitude=s.site.longitude,
                opening_hours=s.site.opening_hours,
                devices={status.value: n for status, n in s.counts.items()},
            )
            for s in fleet.list_sites(db_session(), staff_user())
        ]
    )


@api.get("/devices")
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
    devices = fleet.list_devices(db_session(), staff_user(), int(raw) if raw else None)
    return json_response([_device_out(d) for d in devices])


@api.get("/devices/<device_id>")
@documented(
    "One device, with its latest metrics and inventory",
    response=DeviceOut,
    auth="staff",
    errors={404: "no such device", 403: "outside your places"},
)
def get_device(device_id: str) -> Response:
    return json_response(_device_out(fleet.get_device(db_session(), staff_user(), device_id)))


@api.post("/enrolment-tokens")
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
    user = staff_user()
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
