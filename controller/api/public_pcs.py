"""Staff API for public PCs: wipe reports (the proof of each reset), alerts, session limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from flask import Response, current_app

from controller import access, alerts, fleet, pc_usage
from controller.api import api
from controller.api.fleet import staff_user
from controller.api.io import documented, json_response, parse_body
from controller.context import db_session
from controller.realtime import push_commands


class LeftoverOut(msgspec.Struct):
    area: str
    path: str
    reason: str


class WipeReportOut(msgspec.Struct):
    at: datetime
    ready_ms: int
    wipe_ms: int
    removed_files: int
    removed_bytes: int
    clean: bool
    leftovers_total: int
    login_locked: bool
    ended_by: str
    actions: list[str]
    leftovers: list[LeftoverOut]


class AlertOut(msgspec.Struct):
    id: int
    kind: str
    device_id: str
    site_id: int
    message: str
    raised_at: datetime


class SessionLimitsIn(msgspec.Struct, forbid_unknown_fields=True):
    idle_timeout_min: Annotated[int, msgspec.Meta(ge=2, le=1440)]
    max_session_min: Annotated[int, msgspec.Meta(ge=5, le=1440)] | None = None


class SessionLimitsOut(msgspec.Struct):
    site_id: int
    idle_timeout_min: int
    max_session_min: int | None
    commands: list[str]  # the update_config commands sent to the site's PCs


@api.get("/devices/<device_id>/wipe-reports")
@documented(
    "The latest privacy wipes of a public PC, newest first",
    response=list[WipeReportOut],
    auth="staff",
    errors={403: "outside your places", 404: "no such device"},
)
def list_wipe_reports(device_id: str) -> Response:
    session = db_session()
    device = fleet.get_device(session, staff_user(), device_id)
    return json_response(
        [
            WipeReportOut(
                at=w.at,
                ready_ms=w.ready_ms,
                wipe_ms=w.wipe_ms,
                removed_files=w.removed_files,
                removed_bytes=w.removed_bytes,
                clean=w.clean,
                leftovers_total=w.leftovers_total,
                login_locked=w.login_locked,
                ended_by=w.ended_by,
                actions=w.actions,
                leftovers=[LeftoverOut(**item) for item in w.leftovers],
            )
            for w in pc_usage.recent_wipes(session, device.id, limit=50)
        ]
    )


@api.get("/alerts")
@documented("Open alerts of the places the caller covers", response=list[AlertOut], auth="staff")
def list_alerts() -> Response:
    session = db_session()
    user = staff_user()
    scope = None if access.is_city_wide(user) else access.visible_site_ids(session, user)
    return json_response(
        [
            AlertOut(a.id, a.kind, a.device_id, a.site_id, a.message, a.raised_at)
            for a in alerts.open_alerts(session, scope)
        ]
    )


@api.put("/sites/<int:site_id>/session-limits")
@documented(
    "Set how long residents' sessions last on a site's public PCs, and tell the PCs",
    body=SessionLimitsIn,
    response=SessionLimitsOut,
    auth="staff",
    errors={403: "not allowed", 404: "no such site", 422: "limits out of range"},
)
def put_session_limits(site_id: int) -> Response:
    body = parse_body(SessionLimitsIn)
    session = db_session()
    user = staff_user()
    site = fleet.get_site(session, user, site_id)
    issued = pc_usage.set_session_limits(
        session,
        user,
        site,
        idle_timeout_min=body.idle_timeout_min,
        max_session_min=body.max_session_min,
    )
    session.commit()
    push_commands(current_app.extensions["socketio"], issued)
    return json_response(
        SessionLimitsOut(
            site.id, site.idle_timeout_min, site.max_session_min, [c.id for c in issued]
        )
    )
