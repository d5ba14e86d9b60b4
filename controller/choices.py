"""Every state and kind of the controller's domain, in one place."""

from __future__ import annotations

import enum

from agent.protocol import CommandName, DeviceKind, PortalModeName, SessionEnd

__all__ = [
    "Action",
    "AlertKind",
    "CommandName",
    "CommandState",
    "DeviceKind",
    "DeviceStatus",
    "PortalModeName",
    "Role",
    "SessionEnd",
]


class DeviceStatus(enum.StrEnum):
    NEW = "new"  # enrolled, no heartbeat yet
    ONLINE = "online"
    OFFLINE = "offline"  # three heartbeats missed


class AlertKind(enum.StrEnum):
    # A public PC's wipe left something of a resident: its guest login is locked until a reset
    # comes back clean.
    WIPE_INCOMPLETE = "wipe_incomplete"


class CommandState(enum.StrEnum):
    QUEUED = "queued"  # stored, not yet pushed to the device
    SENT = "sent"  # pushed (again at each reconnection) and possibly claimed: see started_at
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"  # nobody claimed it in time: it will never run

    @property
    def finished(self) -> bool:
        return self in (CommandState.DONE, CommandState.FAILED, CommandState.EXPIRED)


class Role(enum.StrEnum):
    ADMIN = "admin"  # city IT: everything, city-wide
    TECHNICIAN = "technician"  # enrols and repairs devices of the organisations they cover
    MEDIATOR = "mediator"  # resets public PCs of their sites
    MANAGER = "manager"  # reads usage of their organisations, acts on nothing


class Action(enum.StrEnum):
    """What a staff member may be allowed to do; :mod:`controller.access` says who may."""

    VIEW_FLEET = "view_fleet"
    ENROL_DEVICE = "enrol_device"
    MANAGE_USERS = "manage_users"
    MANAGE_PLACES = "manage_places"
    VIEW_AUDIT = "view_audit"
    SEND_COMMANDS = "send_commands"  # which commands, on which sites: access.may_command
