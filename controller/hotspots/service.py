"""Wifi hotspots' captive portal, set from the controller: how residents get online (one tap, the
code of the day, or not at all), when, and for how long; and the code of the day mediators hand
out at the desk.

The settings reach the hotspot as an ``update_config`` command (sent by the controller's one
renderer of settings, controller/configuration/render.py), which its agent writes to the file the
portal reads. The codes of "code" mode derive from a secret generated here and sent along; the
controller computes the day's code with the portal's own function, for the date in the time zone
it sends, so the code on the staff page is the one the portal accepts. The secret goes to the
hotspot only: never to pages, the API or the audit log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.protocol import DeviceKind, PortalModeName
from captive_portal import codes
from controller import access, audit
from controller.access import Action, StaffMember
from controller.commands.models import Command, CommandState
from controller.configuration import render
from controller.errors import DomainError
from controller.fleet.models import Device
from controller.hotspots.models import HotspotPortal
from controller.i18n import _
from controller.places.models import Site
from controller.public_places.service import portal_nearby_args

SESSION_MIN = (15, 1440)  # minutes a connection lasts before the resident connects again


@dataclass(frozen=True)
class PortalView:
    """What staff see of a hotspot's portal; never its secret."""

    managed: bool  # False: never set from the controller, the hotspot follows its own file
    mode: PortalModeName
    follow_site_hours: bool
    session_min: int
    opening_hours: str  # set for the hotspot; "" is open at all hours
    code_of_the_day: str | None  # "123 456" in code mode
    # Where the settings are on their way to the hotspot: queued or sent (it may still run the
    # previous ones), done (in force), failed or expired (it runs older ones: save again).
    delivery: CommandState | None = None
    delivery_note: str = ""  # the hotspot's answer when it failed


def _require_hotspot(device: Device) -> None:
    if device.kind != DeviceKind.HOTSPOT:
        raise DomainError(
            _(
                "%(device)s is not a wifi hotspot: only a hotspot has a captive portal",
                device=device.name,
            ),
            code="not_a_hotspot",
        )


def find_config(session: Session, device: Device) -> HotspotPortal | None:
    """The portal settings of a hotspot, or None while it was never set from the controller."""
    _require_hotspot(device)
    return session.get(HotspotPortal, device.id)


def portal_config(session: Session, device: Device) -> HotspotPortal:
    """The portal settings of a hotspot, made with the defaults and a new secret if it has none."""
    config = find_config(session, device)
    if config is not None:
        return config
    try:
        with session.begin_nested():
            config = HotspotPortal(device_id=device.id, code_secret=secrets.token_urlsafe(32))
            session.add(config)
            session.flush()  # the column defaults (mode, hours, length) are filled in
    except IntegrityError:
        # Two admins saved the first settings at once: the other one's row is the one.
        config = session.get(HotspotPortal, device.id, populate_existing=True)
        assert config is not None
    return config


def portal_args(config: HotspotPortal, site: Site, timezone: str) -> dict[str, str | int]:
    """The settings as ``update_config`` arguments.

    ``timezone`` is the controller's: the portal counts its days there, so that its code of the
    day and the one staff pages show change at the same midnight.
    """
    return {
        "portal_mode": PortalModeName(config.mode),
        "portal_opening_hours": site.opening_hours if config.follow_site_hours else "",
        "portal_timezone": timezone,
        "portal_session_s": config.session_min * 60,
        "portal_code_secret": config.code_secret,
        "portal_revision": config.revision,
    }


def hotspot_settings(session: Session, device: Device, *, timezone: str) -> dict[str, Any] | None:
    """What this domain keeps for a hotspot: its portal's settings and the places near it, as
    sent. Nothing for other kinds, nor for a hotspot never set from the controller (it follows
    its own settings file): so a new hotspot gets nothing with its identity."""
    if device.kind != DeviceKind.HOTSPOT:
        return None
    config = session.get(HotspotPortal, device.id)
    if config is None:
        return None
    site = device.site
    return {**portal_args(config, site, timezone), **portal_nearby_args(session, site)}


def set_portal(
    session: Session,
    user: StaffMember,
    device: Device,
    *,
    mode: str,
    follow_site_hours: bool,
    session_min: int,
    timezone: str,
) -> list[Command]:
    """Change how residents get on a hotspot's wifi; tell the hotspot at once.

    Returns the ``update_config`` command issued to it.
    """
    _require_hotspot(device)
    access.require(user, Action.MANAGE_PLACES, device.site)
    try:
        new_mode = PortalModeName(mode)
    except ValueError:
        known = ", ".join(m.value for m in PortalModeName)
        raise DomainError(
            _(
                "the portal's mode must be one of %(known)s, not %(mode)s",
                known=known,
                mode=repr(mode),
            )
        ) from None
    low, high = SESSION_MIN
    if not low <= session_min <= high:
        raise DomainError(
            _("a connection must last between %(low)d and %(high)d minutes", low=low, high=high)
        )
    config = find_config(session, device)
    before = _settings(config) if config is not None else None
    config = config or portal_config(session, device)
    config.mode = new_mode
    config.follow_site_hours = follow_site_hours
    config.session_min = session_min
    config.revision += 1
    audit.record(
        session,
        user,
        "hotspot.portal",
        "device",
        device.id,
        f"wifi portal of {device.name} at {device.site.name}: {new_mode.value} mode, "
        f"{'closed outside the opening hours' if follow_site_hours else 'open at all hours'}, "
        f"{session_min} min per connection",
        before=before,
        after=_settings(config),
    )
    return _send(session, user, config, device.site, timezone, pushed=True)


def _send(
    session: Session,
    actor: audit.Actor,
    config: HotspotPortal,
    site: Site,
    timezone: str,
    *,
    pushed: bool = False,
) -> list[Command]:
    """Send the hotspot the settings of ``config`` and remember the command, for the pages to
    say whether the hotspot has them yet."""
    issued = render.send_settings(
        session,
        actor,
        [config.device_id],
        # With the public places nearest the site, for the portal's "closed" page (an agent too
        # old to read them gets the rest).
        {**portal_args(config, site, timezone), **portal_nearby_args(session, site)},
        owner=render.Owner.HOTSPOTS,
        pushed=pushed,
    )
    config.command = issued[0] if issued else None
    return issued


def _settings(config: HotspotPortal) -> dict[str, object]:
    """The settings as the audit log keeps them: the secret left out on purpose."""
    return {
        "mode": config.mode,
        "follow_site_hours": config.follow_site_hours,
        "session_min": config.session_min,
    }


def code_of_the_day(config: HotspotPortal, timezone: str, now: datetime) -> str | None:
    """The code the portal accepts on ``now``'s date in ``timezone``, as "123 456"; None unless
    the portal is in code mode."""
    if config.mode != PortalModeName.CODE:
        return None
    day = now.astimezone(ZoneInfo(timezone)).date()
    return codes.display_code(codes.code_of_the_day(config.code_secret, day))


def view_portal(
    session: Session, user: StaffMember, device: Device, *, timezone: str, now: datetime
) -> PortalView:
    """The hotspot's portal for anyone who sees the device, mediators included: they give the
    code of the day to residents who ask."""
    access.require(user, Action.VIEW_FLEET, device.site)
    config = find_config(session, device)
    if config is None:
        return PortalView(
            managed=False,
            mode=HotspotPortal.DEFAULT_MODE,
            follow_site_hours=False,
            session_min=HotspotPortal.DEFAULT_SESSION_MIN,
            opening_hours="",
            code_of_the_day=None,
        )
    return PortalView(
        managed=True,
        mode=PortalModeName(config.mode),
        follow_site_hours=config.follow_site_hours,
        session_min=config.session_min,
        opening_hours=device.site.opening_hours if config.follow_site_hours else "",
        code_of_the_day=code_of_the_day(config, timezone, now),
        delivery=CommandState(config.command.state) if config.command is not None else None,
        delivery_note=(
            config.command.output or ""
            if config.command is not None and config.command.state == CommandState.FAILED
            else ""
        ),
    )


def codes_of_the_day(
    session: Session, user: StaffMember, site: Site, *, timezone: str, now: datetime
) -> dict[str, str]:
    """Today's code of each hotspot of ``site`` in code mode, by device id."""
    access.require(user, Action.VIEW_FLEET, site)
    configs = session.scalars(
        select(HotspotPortal)
        .join(Device)
        .where(Device.site_id == site.id, HotspotPortal.mode == PortalModeName.CODE)
    )
    return {c.device_id: code for c in configs if (code := code_of_the_day(c, timezone, now))}


def site_hours_changed(
    session: Session, actor: audit.Actor, site: Site, timezone: str
) -> list[Command]:
    """Send the new opening hours of ``site`` to its hotspots that close outside them.

    Only hotspots set from the controller are told: one never set from here follows its own
    settings file, which a push of the defaults would silently override. The commands are
    stored ``queued`` (the caller may be the command line): each process's sweep sends them.
    """
    configs = list(
        session.scalars(
            select(HotspotPortal)
            .join(Device)
            .where(Device.site_id == site.id, HotspotPortal.follow_site_hours.is_(True))
            .order_by(HotspotPortal.device_id)
        )
    )
    issued = []
    for config in configs:
        config.revision += 1
        issued += _send(session, actor, config, site, timezone)
    return issued
