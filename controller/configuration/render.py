"""Every device's settings, rendered and sent by one module.

A device's settings have two kinds of owner:

- the layers (defaults ← organisation ← site ← device, :mod:`controller.configuration.layers`),
  which rollouts carry to the devices (:mod:`controller.configuration.rollouts`);
- the domains that keep a record of some (``commands.OWNED_SETTINGS``): a site's session limits
  and language (public_pcs), a hotspot's portal and the places near it (hotspots), the kiosks'
  rules, hours and staff PINs (lockers), out of service (maintenance).

Each owner decides when its settings change and hands them to :func:`send_settings`, the only
code of the controller that issues ``update_config`` (a test reads the source to hold it so).
It sends each device only the fields its agent said it reads (controller/fleet/features.py):
agents decode strictly, and an older one would refuse the whole command for one field it does
not know. Devices are grouped by what they get, one batch of commands per group; a device left
with nothing gets no command at all. An owner sends only its own settings, so that the page that
shows a setting and the device never disagree.

A new device gets its settings with its identity from :func:`starting_settings`, enrolment's one
provider: the layers' values and the domains', each domain giving its own through the provider
it registers (``fleet.enrolment.add_starting_settings``: this module imports no domain), less
what the new agent does not read. :func:`device_settings` lists them all for the device's
settings (``GET /api/v1/devices/<id>/settings``), each with where it comes from.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from agent.protocol import PORTAL_SETTINGS, CommandName, UpdateConfigArgs
from controller import audit
from controller.commands import service as commands
from controller.commands.models import Command
from controller.config import ControllerSettings
from controller.configuration import catalogue, layers
from controller.errors import DomainError, NotFound
from controller.fleet import features
from controller.fleet.enrolment import StartingSettings
from controller.fleet.models import Device
from controller.i18n import _


class Owner(enum.StrEnum):
    """Who keeps a setting: the layers, or the domain whose page sets it."""

    LAYERS = "layers"
    PUBLIC_PCS = "public_pcs"
    HOTSPOTS = "hotspots"
    LOCKERS = "lockers"
    MAINTENANCE = "maintenance"


_KIOSK_SETTINGS = frozenset(f for f in UpdateConfigArgs.__struct_fields__ if f.startswith("kiosk_"))
_SITE_LOCALE = frozenset({"site_language", "site_timezone"})

# The settings each owner sends. The site's language and time zone are the public PCs' (their
# warnings to residents) and the kiosks' (their screen, their closing time) alike: each domain
# sends them with its own settings. device_name belongs to no one: staff send it as a command.
OWNED: Mapping[Owner, frozenset[str]] = {
    Owner.LAYERS: frozenset(catalogue.LAYERED),
    Owner.PUBLIC_PCS: frozenset({"idle_timeout_s", "max_session_s"}) | _SITE_LOCALE,
    Owner.HOTSPOTS: frozenset(PORTAL_SETTINGS),
    Owner.LOCKERS: _KIOSK_SETTINGS | _SITE_LOCALE,
    Owner.MAINTENANCE: frozenset({"out_of_service"}),
}


def send_settings(
    session: Session,
    actor: audit.Actor,
    devices: Iterable[Device | str],
    values: Mapping[str, Any],
    *,
    owner: Owner,
    pushed: bool = False,
    ttl: timedelta | None = None,
) -> list[Command]:
    """Send ``values``, settings ``owner`` keeps, to ``devices`` (or their ids): to each device
    the part of them its agent reads, in one ``update_config``.

    Refused whole, with nothing issued: a setting ``owner`` does not keep, a value an agent would
    refuse, an unknown device, a device outside the actor's places. ``pushed`` and ``ttl`` as for
    ``commands.issue``: the caller pushes the commands returned after its commit."""
    _require_owned(owner, values)
    checked = commands.validate_args(CommandName.UPDATE_CONFIG, dict(values))
    given = list(devices)
    found = _with_features(session, given)
    ids = {d if isinstance(d, str) else d.id for d in given}
    if len(found) < len(ids):
        missing = sorted(ids - {d.id for d in found})
        raise NotFound(_("no device %(id)s", id=missing[0]))
    groups: dict[tuple[str, ...], list[str]] = {}
    for device in found:
        fields = tuple(features.readable(device, checked))
        if fields:
            groups.setdefault(fields, []).append(device.id)
    issued: list[Command] = []
    for fields, device_ids in groups.items():
        issued += commands.issue(
            session,
            actor,
            CommandName.UPDATE_CONFIG,
            device_ids=device_ids,
            args={name: checked[name] for name in fields},
            ttl=ttl,
            pushed=pushed,
            owned_settings=True,
        )
    return issued


def starting_settings(
    session: Session, device: Device, *, providers: Sequence[StartingSettings]
) -> dict[str, Any] | None:
    """What a new device gets with its identity: the layers over it (no release: an upgrade is
    a command, :func:`rollouts.upgrade_enrolled`) and each domain's ``providers``' values, as
    far as its agent reads them (what its enrolment request listed). None when nothing."""
    values = dict(layers.starting_settings(session, device) or {})
    for provider in providers:
        values.update(provider(session, device) or {})
    return features.readable(device, values) or None


@dataclass(frozen=True)
class ShownSetting:
    """One of a device's settings on its page, and where it comes from."""

    value: Any  # a secret's is commands.HIDDEN
    source: str  # "default", a layer's scope, or the Owner that keeps it
    source_name: str  # the layer's organisation, site or device; where the domain sets it
    version: int  # the layer's version (0: a default or a domain's)
    agent_reads: bool  # False: its agent is too old for it, and is not sent it


def device_settings(
    session: Session,
    device: Device,
    settings: ControllerSettings,
    providers: Sequence[StartingSettings],
) -> dict[str, ShownSetting]:
    """Every setting ``device`` is given: the layered ones in force, then each domain's values
    from its provider, each with where it comes from. No access check: the caller's."""
    shown: dict[str, ShownSetting] = {}
    for name, (value, source) in layers.effective(session, device, settings).items():
        reads = features.reads(device, name)
        shown[name] = ShownSetting(value, source.scope, source.name, source.version, reads)
    for provider in providers:
        values = provider(session, device) or {}
        owner = owner_of(values)
        for name, value in commands.shown_args(values).items():
            where = commands.OWNED_SETTINGS.get(name)
            shown[name] = ShownSetting(
                value,
                owner.value if owner else "",
                str(where) if where is not None else "",
                0,
                features.reads(device, name),
            )
    return shown


def owner_of(values: Mapping[str, Any]) -> Owner | None:
    """The owner that keeps every one of ``values`` (a domain's provider gives its own)."""
    return next((owner for owner, names in OWNED.items() if names >= values.keys()), None)


def _with_features(session: Session, devices: Sequence[Device | str]) -> list[Device]:
    """``devices`` in order, loaded with what says their features: those given loaded as they
    are (a rollout loads its batch itself), the others in one query."""
    given = list(dict.fromkeys(devices))
    ready = {
        d.id: d for d in given if isinstance(d, Device) and "metrics" not in inspect(d).unloaded
    }
    ids = [d if isinstance(d, str) else d.id for d in given]
    loaded = features.devices_with_features(session, [i for i in ids if i not in ready])
    found = {**ready, **{d.id: d for d in loaded}}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def _require_owned(owner: Owner, values: Mapping[str, Any]) -> None:
    others = sorted(set(values) - OWNED[owner])
    if others:
        raise DomainError(
            _(
                "%(owner)s does not keep %(settings)s: only %(known)s",
                owner=owner.value,
                settings=", ".join(others),
                known=", ".join(sorted(OWNED[owner])),
            ),
            code="not_owner",
            status=422,
        )
