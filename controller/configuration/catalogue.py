"""The settings a layer may set, what each means, its default, and the check of a layer's values.

Types and bounds are the wire schema's (agent/protocol.py ``UpdateConfigArgs``): a layer can never
hold a value the agent would refuse. The settings that another domain keeps a record of (a site's
session limits, a hotspot's portal, the kiosks' rules, out of service: commands.OWNED_SETTINGS)
are set on that domain's page and are not layer settings; the device's page shows them beside the
layered ones (:mod:`controller.configuration.render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from flask_babel import LazyString

from agent.protocol import UpdateConfigArgs
from controller.config import ControllerSettings
from controller.errors import DomainError
from controller.i18n import _, _l


@dataclass(frozen=True)
class LayeredSetting:
    label: str | LazyString  # for people, on pages
    unit: str | LazyString
    number: bool = True  # a whole number; else a text the page offers choices for


# The release of borne a device runs: set by a layer to upgrade (or downgrade) its devices, a
# rollout carrying it like any setting (controller/configuration/releases.py keeps the wheels).
# No default: a device keeps what it runs until a layer names a version.
AGENT_VERSION = "agent_version"

LAYERED: Mapping[str, LayeredSetting] = {
    "heartbeat_interval_s": LayeredSetting(_l("Heartbeat every"), _l("seconds")),
    "inventory_interval_s": LayeredSetting(_l("Inventory every"), _l("seconds")),
    AGENT_VERSION: LayeredSetting(_l("Agent version"), "", number=False),
}

# The agent's own default when nothing is set (agent/settings.py); the heartbeat's is the
# controller's setting, which enrolment gives every new device.
AGENT_INVENTORY_INTERVAL_S = 86_400


def defaults(settings: ControllerSettings) -> dict[str, Any]:
    """What a device runs with when no layer sets a value (``agent_version`` has none: it is
    left out, not sent as null, so that a device keeps the release it runs)."""
    return {
        "heartbeat_interval_s": settings.heartbeat_interval_s,
        "inventory_interval_s": AGENT_INVENTORY_INTERVAL_S,
    }


def check_layer(values: object) -> dict[str, Any]:
    """A layer's settings checked whole: an unknown setting or a value of the wrong type or out
    of bounds is refused naming it, and nothing is kept (a layer is never half-changed)."""
    if not isinstance(values, dict):
        raise DomainError(_("a layer's settings must be an object of setting: value"), status=422)
    unknown = sorted(set(values) - LAYERED.keys())
    if unknown:
        raise DomainError(
            _(
                "unknown setting(s) %(unknown)s: a layer may set %(known)s",
                unknown=", ".join(unknown),
                known=", ".join(LAYERED),
            ),
            code="unknown_setting",
            status=422,
        )
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue  # null: the layer stops setting it
        try:
            msgspec.convert({name: value}, UpdateConfigArgs, strict=True)
        except msgspec.ValidationError as exc:
            raise DomainError(
                _("setting %(name)s: %(problem)s", name=name, problem=_problem(exc)),
                code="bad_setting",
                status=422,
            ) from None
        checked[name] = value
    return checked


def _problem(exc: msgspec.ValidationError) -> str:
    # msgspec says "Expected `int`, got `str` - at `$.heartbeat_interval_s`": the path is the
    # setting the message already names.
    return str(exc).split(" - at ")[0]
