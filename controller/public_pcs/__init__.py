"""Public PCs: residents' sessions (anonymous), the wipe reports that prove each reset, and the
session limits of each site's PCs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import func, select

from controller import audit
from controller.api import add_api
from controller.i18n import _l
from controller.web.panels import Panel, add_panel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from controller.fleet.models import Device


def devices_with_login_locked(session: Session, devices: Sequence[Device]) -> set[str]:
    """Of ``devices``, the public PCs whose guest login is locked because a wipe left
    something: what the PC says in its latest heartbeat, else what its latest wipe said."""
    from agent.protocol import DeviceKind
    from controller.public_pcs.models import WipeReport

    locked: set[str] = set()
    unknown: list[str] = []
    for device in devices:
        if device.kind != DeviceKind.PC:
            continue
        said = ((device.metrics or {}).get("state") or {}).get("guest_login")
        if said == "locked":
            locked.add(device.id)
        elif said != "open":
            unknown.append(device.id)
    if unknown:
        latest = (
            select(WipeReport.device_id, func.max(WipeReport.id).label("id"))
            .where(WipeReport.device_id.in_(unknown))
            .group_by(WipeReport.device_id)
            .subquery()
        )
        locked.update(
            session.scalars(
                select(WipeReport.device_id)
                .join(latest, WipeReport.id == latest.c.id)
                .where(WipeReport.login_locked.is_(True))
            )
        )
    return locked


def init_app(app: Flask) -> None:
    # Imported when the app is built, not with the package: the command line and the
    # migrations use the models and services without the pages and the API.
    from agent.protocol import SessionRecord, WipeReport
    from controller.context import settings_of
    from controller.fleet.condition import Concern, add_concern
    from controller.fleet.enrolment import add_starting_settings
    from controller.fleet.ingest import ingest_of
    from controller.public_pcs import service, web
    from controller.public_pcs.api import public_pcs_api

    app.register_blueprint(web.public_pcs_web)
    add_api(app, public_pcs_api)
    add_panel(app, "device", Panel("wipes", "public_pcs/_wipes_panel.html", web.wipes_panel, 50))
    add_panel(app, "site", Panel("desk", "public_pcs/_desk_panel.html", web.desk_panel, 5))
    add_panel(app, "site", Panel("sessions", "public_pcs/_limits_panel.html", web.limits_panel, 50))
    handlers = ingest_of(app).handlers
    handlers.add(SessionRecord, service.session_event)
    handlers.add(WipeReport, service.wipe_event)
    add_starting_settings(app, partial(service.pc_settings, time_zone=settings_of(app).timezone))
    add_concern(app, Concern.LOGIN_LOCKED, devices_with_login_locked)
    audit.describe_actions(app, {"site.session_limits": _l("Session limits changed")})
