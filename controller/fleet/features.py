"""What a device's agent reads: the one answer to "may this setting be sent to it?".

Agents decode strictly: an ``update_config`` carrying a field an agent does not know makes it
refuse the whole command, so a field that came after version 1's first agents goes only to
agents that said they read it (agent/protocol.py, ``UPDATE_CONFIG_FEATURES``). An agent says so
by listing its features at enrolment and in every heartbeat (kept as ``Device.agent_features``);
agents older than that list said the same with a key of their heartbeat's state
(``LEGACY_STATE_KEYS``), which still counts, as does the kind of device for what every agent of
that kind reads (``LEGACY_KIND_FEATURES``). A device that said nothing reads version 1's first
fields only: nothing is sent to it that it might refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, undefer

from agent.protocol import (
    LEGACY_KIND_FEATURES,
    LEGACY_STATE_KEYS,
    UPDATE_CONFIG_FEATURES,
    AgentFeature,
    DeviceKind,
)
from controller.fleet.models import Device

KNOWN = frozenset(AgentFeature)


def features_of(device: Device) -> frozenset[AgentFeature]:
    """The features ``device``'s agent reads: those it listed, and those its heartbeat's state
    keys or its kind say for agents older than the list."""
    found = {AgentFeature(f) for f in device.agent_features or () if f in KNOWN}
    found |= LEGACY_KIND_FEATURES.get(DeviceKind(device.kind), frozenset())
    state = (device.metrics or {}).get("state")
    if isinstance(state, dict):
        for key, features in LEGACY_STATE_KEYS.items():
            if key in state:
                found |= features
    return frozenset(found)


def readable(device: Device, values: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``values`` (``update_config`` settings) that ``device``'s agent reads."""
    features = features_of(device)
    return {
        name: value
        for name, value in values.items()
        if (needed := UPDATE_CONFIG_FEATURES.get(name)) is None or needed in features
    }


def reads(device: Device, setting: str) -> bool:
    """Whether ``device``'s agent reads the ``update_config`` setting ``setting``."""
    return bool(readable(device, {setting: None}))


def devices_with_features(session: Session, device_ids: Iterable[str]) -> list[Device]:
    """The devices of ``device_ids`` (in that order, unknown ids left out) with what
    :func:`features_of` reads loaded in one query, not one per device."""
    ids = list(dict.fromkeys(device_ids))
    if not ids:
        return []
    found = {
        d.id: d
        for d in session.scalars(
            select(Device)
            .where(Device.id.in_(ids))
            .options(undefer(Device.metrics), selectinload(Device.site))
        )
    }
    return [found[i] for i in ids if i in found]
