"""A device's condition: the one truth every list shows (the fleet, a site's devices, a device's
page). Presence (online, offline, new) is the fleet's own; what other domains know that staff
must see at a glance — a public PC whose guest login is locked, an open alert — they report
through a small registry, so the fleet imports none of their tables.

There is no "in maintenance" state yet: it comes with a maintenance mode of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from controller.fleet.models import Device, DeviceStatus
from controller.i18n import _l

CONCERNS = "borne.device_concerns"


class Concern(enum.StrEnum):
    """What another domain knows of a device that staff must see in every list."""

    OUT_OF_SERVICE = "out_of_service"  # maintenance: taken away from the public for a repair
    LOGIN_LOCKED = "login_locked"  # public PCs: a wipe left something, residents cannot log in
    OPEN_ALERT = "open_alert"  # maintenance: an alert nobody resolved yet
    LOCKER_TROUBLE = "locker_trouble"  # lockers: a phone past its time, or a locker out of order


# Told by a word and a pictogram, never by colour alone (WCAG 1.4.1); in order of urgency.
CONCERN_WORDS = {
    Concern.OUT_OF_SERVICE: (_l("Out of service"), "wrench"),
    Concern.LOGIN_LOCKED: (_l("Login locked"), "lock"),
    Concern.OPEN_ALERT: (_l("Open alert"), "circle-alert"),
    Concern.LOCKER_TROUBLE: (_l("Locker needs staff"), "battery-charging"),
}

# Of these devices, the ids of those the concern applies to: one read-only query or two, made
# by the domain that knows (registered by its ``init_app`` with :func:`add_concern`).
ConcernFinder = Callable[[Session, Sequence[Device]], set[str]]


def add_concern(app: Flask, concern: Concern, finder: ConcernFinder) -> None:
    """Let a domain say which devices ``concern`` applies to."""
    app.extensions.setdefault(CONCERNS, []).append((concern, finder))


def concern_finders(app: Flask) -> list[tuple[Concern, ConcernFinder]]:
    finders: list[tuple[Concern, ConcernFinder]] = app.extensions.get(CONCERNS, [])
    return finders


@dataclass(frozen=True)
class DeviceCondition:
    """Where a device stands: its presence, what other domains flag, and whether it is retired."""

    status: DeviceStatus
    concerns: tuple[Concern, ...] = ()
    retired: bool = False

    @property
    def troubled(self) -> bool:
        """Whether staff should look at it: something flagged, or silent."""
        return bool(self.concerns) or self.status is DeviceStatus.OFFLINE

    @property
    def live(self) -> bool:
        """Whether its latest figures (CPU, memory) are current: online and in service."""
        return self.status is DeviceStatus.ONLINE and not self.retired

    @property
    def urgency(self) -> int:
        """Smaller first when sorting by status: flagged, offline, new, online, retired."""
        if self.retired:
            return 9
        if self.concerns:
            return min(list(Concern).index(c) for c in self.concerns)
        return len(Concern) + [
            DeviceStatus.OFFLINE,
            DeviceStatus.NEW,
            DeviceStatus.ONLINE,
        ].index(self.status)


def device_conditions(
    session: Session,
    devices: Sequence[Device],
    finders: Sequence[tuple[Concern, ConcernFinder]],
) -> dict[str, DeviceCondition]:
    """Each device's condition by id, every domain's concerns included (one query or two per
    concern for the whole list, whatever its length)."""
    flagged: dict[str, list[Concern]] = {}
    if devices:
        for concern, finder in finders:
            for device_id in finder(session, devices):
                flagged.setdefault(device_id, []).append(concern)
    order = list(Concern)
    return {
        device.id: DeviceCondition(
            status=DeviceStatus(device.status),
            concerns=tuple(sorted(set(flagged.get(device.id, [])), key=order.index)),
            retired=device.retired_at is not None,
        )
        for device in devices
    }
