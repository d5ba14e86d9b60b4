"""Out of service: a technician takes a device away from the public while it is repaired.

A public PC then refuses the guest login and shows residents a clear "out of service" screen;
a kiosk's page says so; monitoring raises nothing new about the device; availability counts it
apart. It returns to service by the same switch, or when its ticket is closed.

The agent keeps the state on disk and says it in every heartbeat (``state["service"]``); the
setting goes to agents that read it (the settings renderer, configuration/render.py, leaves out
an older agent, which would refuse the whole ``update_config`` for a field it does not know),
and the device's page says when the agent has not confirmed it yet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from agent.protocol import SERVICE_STATE_KEY, ServiceState
from controller import access, audit
from controller.access import Role
from controller.audit import Actor
from controller.configuration import render
from controller.db import utcnow
from controller.errors import DomainError, PermissionDenied
from controller.fleet.models import Device
from controller.i18n import _

REASON_MAX = 200


def may_switch(actor: Actor, device: Device) -> bool:
    """Technicians and admins covering the device's site."""
    if isinstance(actor, str):
        return True
    return Role(actor.role) in (Role.ADMIN, Role.TECHNICIAN) and access.covers_site(
        actor, device.site
    )


def reported_out_of_service(device: Device) -> bool | None:
    """What the agent last said (None: it does not say)."""
    state = (device.metrics or {}).get("state") or {}
    if not isinstance(state, dict) or SERVICE_STATE_KEY not in state:
        return None
    return bool(state[SERVICE_STATE_KEY] == ServiceState.OUT_OF_SERVICE)


def set_out_of_service(
    session: Session,
    actor: Actor,
    device: Device,
    on: bool,
    reason: str = "",
    now: datetime | None = None,
) -> Device:
    """Take ``device`` out of service (``on``) or return it; tells its agent at once."""
    if not may_switch(actor, device):
        raise PermissionDenied(
            _(
                "only a technician covering %(site)s may take its devices out of service",
                site=device.site.name,
            )
        )
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise DomainError(_("the reason is at most %(max)s characters", max=REASON_MAX))
    if device.retired_at is not None:
        raise DomainError(_("%(device)s is retired", device=device.name))
    if on == (device.out_of_service_since is not None):
        return device  # already so: nothing to tell anyone
    device.out_of_service_since = (now or utcnow()) if on else None
    device.out_of_service_reason = reason if on else ""
    audit.record(
        session,
        actor,
        "device.out_of_service" if on else "device.in_service",
        "device",
        device.id,
        reason,
    )
    render.send_settings(
        session,
        actor,
        [device],
        {"out_of_service": on},
        owner=render.Owner.MAINTENANCE,
        pushed=True,
    )
    return device


def service_settings(session: Session, device: Device) -> dict[str, bool] | None:
    """What this domain keeps for a device: that it is out of service (nothing while it is in
    service, as every device starts)."""
    return {"out_of_service": True} if device.out_of_service_since is not None else None
