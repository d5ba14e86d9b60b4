"""Staff API for public PCs: wipe reports (the proof of each reset), session limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from flask import Blueprint, Response

from controller.accounts.current import signed_in
from controller.api.io import MAX_ROW_ID, documented, json_response, parse_body
from controller.commands.delivery import send_now
from controller.context import db_session
from controller.fleet import service as fleet
from controller.places import service as places
from controller.public_pcs import service as pc_usage

public_pcs_api = Blueprint("public_pcs", __name__)


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


class SessionLimitsIn(msgspec.Struct, forbid_unknown_fields=True):
    idle_timeout_min: Annotated[int, msgspec.Meta(ge=2, le=1440)]
    max_session_min: Annotated[int, msgspec.Meta(ge=5, le=1440)] | None = None


class SessionLimitsOut(msgspec.Struct):
    site_id: int
    idle_timeout_min: int
    max_session_min: int | None
    commands: list[str]  # the update_config commands sent to the site's PCs


@public_pcs_api.get("/devices/<device_id>/wipe-reports")
@documented(
    "The latest privacy wipes of a public PC, newest first",
    response=list[WipeReportOut],
    auth="staff",
    errors={403: "outside your places", 404: "no such device"},
)
def list_wipe_reports(device_id: str) -> Response:
    session = db_session()
    user = signed_in()
    device = fleet.get_device(session, user, device_id)
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
            for w in pc_usage.recent_wipes(session, user, device, limit=50)
        ]
    )


@public_pcs_api.put(f"/sites/<int(min=1, max={MAX_ROW_ID}):site_id>/session-limits")
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
    user = signed_in()
    site = places.get_site(session, user, site_id)
    issued = pc_usage.set_session_limits(
        session,
        user,
        site,
        idle_timeout_min=body.idle_timeout_min,
        max_session_min=body.max_session_min,
    )
    session.commit()
    send_now(issued)
    return json_response(
        SessionLimitsOut(
            site.id, site.idle_timeout_min, site.max_session_min, [c.id for c in issued]
        )
    )
