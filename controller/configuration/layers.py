"""A device's settings in layers: defaults ← organisation ← site ← device.

Each layer holds only what it sets; a narrower layer wins. A change of a layer is a new version
(kept whole, so that any earlier one can be gone back to), previewed first as the difference it
makes on each device it reaches — only those whose settings in force change — and then carried by
a rollout (controller/configuration/rollouts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller import access, audit
from controller.access import Action
from controller.config import ControllerSettings
from controller.configuration import catalogue, releases
from controller.configuration.models import ConfigLayer, ConfigVersion, LayerScope
from controller.errors import DomainError, NotFound
from controller.fleet.models import Device
from controller.i18n import _
from controller.places.models import Organisation, Site


@dataclass(frozen=True)
class Target:
    """What a layer applies to, found and checked."""

    scope: LayerScope
    target_id: str
    name: str
    sites: tuple[Site, ...]  # the sites whose devices it reaches
    device: Device | None = None


@dataclass(frozen=True)
class Source:
    """Where a device's value comes from: "default", or a layer and its version."""

    scope: str  # "default" or a LayerScope
    name: str  # the organisation's, site's or device's name ("" for the default)
    version: int = 0


@dataclass
class DeviceChange:
    device_id: str
    device_name: str
    site_id: int
    site_name: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changed(self) -> dict[str, tuple[Any, Any]]:
        keys = sorted(set(self.before) | set(self.after))
        return {
            k: (self.before.get(k), self.after.get(k))
            for k in keys
            if self.before.get(k) != self.after.get(k)
        }


@dataclass
class Preview:
    """A layer change before it is applied: the layer's own difference, and each device's."""

    target: Target
    layer_before: dict[str, Any]
    layer_after: dict[str, Any]
    devices: list[DeviceChange] = field(default_factory=list)
    unchanged_devices: int = 0  # reached, but a narrower layer keeps their values


def find_target(session: Session, actor: audit.Actor, scope: str, target_id: str) -> Target:
    """The organisation, site or device a layer is for; city IT only changes layers, and anyone
    who sees the fleet may read those of their places (checked by the callers that read)."""
    try:
        layer_scope = LayerScope(scope)
    except ValueError:
        raise NotFound(
            _(
                "no layer scope %(scope)s: organisation, site or device",
                scope=repr(scope),
            )
        ) from None
    if layer_scope is LayerScope.DEVICE:
        device = session.get(Device, target_id)
        if device is None or device.retired_at is not None:
            raise NotFound(_("no device %(device)s", device=repr(target_id)))
        return Target(layer_scope, device.id, device.name, (device.site,), device)
    number = _number(target_id)
    if layer_scope is LayerScope.SITE:
        site = session.get(Site, number) if number is not None else None
        if site is None:
            raise NotFound(_("no site %(site)s", site=repr(target_id)))
        return Target(layer_scope, str(site.id), site.name, (site,))
    organisation = session.get(Organisation, number) if number is not None else None
    if organisation is None:
        raise NotFound(_("no organisation %(organisation)s", organisation=repr(target_id)))
    return Target(layer_scope, str(organisation.id), organisation.name, tuple(organisation.sites))


def layer_of(session: Session, target: Target) -> ConfigLayer | None:
    return session.scalar(
        select(ConfigLayer).where(
            ConfigLayer.scope == target.scope, ConfigLayer.target_id == target.target_id
        )
    )


def effective(
    session: Session, device: Device, settings: ControllerSettings
) -> dict[str, tuple[Any, Source]]:
    """A device's layered settings in force and where each comes from."""
    values: dict[str, tuple[Any, Source]] = {
        name: (value, Source("default", "")) for name, value in catalogue.defaults(settings).items()
    }
    for layer, name in _layers_of(session, device):
        for setting, value in layer.settings.items():
            values[setting] = (value, Source(layer.scope, name, layer.version))
    return values


def preview(
    session: Session,
    actor: audit.Actor,
    target: Target,
    new_settings: object,
    settings: ControllerSettings,
) -> Preview:
    """What changing ``target``'s layer to ``new_settings`` would do, device by device."""
    _require_change(actor, target)
    checked = catalogue.check_layer(new_settings)
    if catalogue.AGENT_VERSION in checked:
        # Before anything is written: a version no wheel is kept of would fail on every device.
        releases.require(settings.releases_dir, checked[catalogue.AGENT_VERSION])
    layer = layer_of(session, target)
    before_layer = dict(layer.settings) if layer is not None else {}
    result = Preview(target, before_layer, checked)
    devices = reached_devices(session, target)
    # Every layer over these devices in one query: an organisation of 5,000 PCs is previewed in
    # one round trip, not two per device.
    found = _layers_over(session, devices)
    defaults = catalogue.defaults(settings)
    for device in devices:
        before = _merged(defaults, found, device)
        after = _merged(defaults, found, device, (target.scope, target.target_id, checked))
        change = DeviceChange(
            device.id, device.name, device.site_id, device.site.name, before, after
        )
        if change.changed:
            result.devices.append(change)
        else:
            result.unchanged_devices += 1
    return result


def save_version(
    session: Session,
    actor: audit.Actor,
    target: Target,
    new_settings: dict[str, Any],
    *,
    note: str = "",
) -> ConfigLayer:
    """Keep ``new_settings`` (checked) as the layer's next version. Audited with the difference."""
    _require_change(actor, target)
    layer = layer_of(session, target)
    if layer is None:
        layer = ConfigLayer(scope=target.scope, target_id=target.target_id, version=0, settings={})
        try:
            with session.begin_nested():
                session.add(layer)
                session.flush()
        except IntegrityError:
            layer = layer_of(session, target)  # created by another request at the same moment
            assert layer is not None
    before = dict(layer.settings)
    layer.version += 1
    layer.settings = dict(new_settings)
    session.add(
        ConfigVersion(
            layer=layer,
            version=layer.version,
            settings=dict(new_settings),
            author=audit.actor_name(actor),
            note=note,
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        "config.layer",
        target.scope.value,
        target.target_id,
        f"settings of {target.scope.value} {target.name}: version {layer.version}"
        + (f" ({note})" if note else ""),
        before=before,
        after=dict(new_settings),
    )
    return layer


def version_settings(session: Session, layer: ConfigLayer, version: int) -> dict[str, Any]:
    found = session.scalar(
        select(ConfigVersion).where(
            ConfigVersion.layer_id == layer.id, ConfigVersion.version == version
        )
    )
    if found is None:
        raise NotFound(
            _(
                "this layer has no version %(version)d (versions 1 to %(last)d)",
                version=version,
                last=layer.version,
            )
        )
    return dict(found.settings)


def reached_devices(session: Session, target: Target) -> list[Device]:
    """The devices in service a layer reaches (retired ones keep their history, not settings)."""
    if target.device is not None:
        return [target.device]
    site_ids = [site.id for site in target.sites]
    if not site_ids:
        return []
    return list(
        session.scalars(
            select(Device)
            .where(Device.site_id.in_(site_ids), Device.retired_at.is_(None))
            .order_by(Device.site_id, Device.name)
        )
    )


def layers_for_read(session: Session, actor: audit.Actor, target: Target) -> ConfigLayer | None:
    if not isinstance(actor, str):
        access.require(actor, Action.VIEW_FLEET)
        if not all(access.covers_site(actor, site) for site in target.sites):
            raise access_denied(target)
    return layer_of(session, target)


def access_denied(target: Target) -> DomainError:
    from controller.errors import PermissionDenied

    return PermissionDenied(_("%(place)s is outside the places you cover", place=target.name))


def _require_change(actor: audit.Actor, target: Target) -> None:
    if isinstance(actor, str):
        return  # the command line holds the database: city IT
    access.require(actor, Action.MANAGE_PLACES)
    if not all(access.covers_site(actor, site) for site in target.sites):
        raise access_denied(target)


def _layers_of(session: Session, device: Device) -> list[tuple[ConfigLayer, str]]:
    """The layers over ``device``, widest first, with the name of what each is for."""
    found = _layers_over(session, [device])
    site = device.site
    names = (site.organisation.name, site.name, device.name)
    named = zip(_keys_of(device), names, strict=True)
    return [(found[key], name) for key, name in named if key in found]


def _keys_of(device: Device) -> list[tuple[LayerScope, str]]:
    """The layers over ``device``, widest first."""
    return [
        (LayerScope.ORGANISATION, str(device.site.organisation_id)),
        (LayerScope.SITE, str(device.site_id)),
        (LayerScope.DEVICE, device.id),
    ]


def _layers_over(
    session: Session, devices: list[Device]
) -> dict[tuple[LayerScope, str], ConfigLayer]:
    """Every layer over ``devices``, by (scope, target id), in two queries whatever their
    number: the one way layers are read, for one device or an organisation's thousands."""
    site_ids = {d.site_id for d in devices}
    organisation_ids = {d.site.organisation_id for d in devices}
    device_layers = (
        select(ConfigLayer)
        .join(Device, Device.id == ConfigLayer.target_id)
        .where(ConfigLayer.scope == LayerScope.DEVICE, Device.site_id.in_(site_ids))
    )
    wider = select(ConfigLayer).where(
        or_(
            (ConfigLayer.scope == LayerScope.ORGANISATION)
            & ConfigLayer.target_id.in_([str(i) for i in organisation_ids]),
            (ConfigLayer.scope == LayerScope.SITE)
            & ConfigLayer.target_id.in_([str(i) for i in site_ids]),
        )
    )
    found: dict[tuple[LayerScope, str], ConfigLayer] = {}
    for query in (wider, device_layers):
        for layer in session.scalars(query):
            found[(LayerScope(layer.scope), layer.target_id)] = layer
    return found


def _merged(
    defaults: dict[str, Any],
    found: dict[tuple[LayerScope, str], ConfigLayer],
    device: Device,
    replaced: tuple[LayerScope, str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``device``'s values from the defaults and the layers in ``found`` (one of them replaced
    by new settings: what a change would make of it)."""
    values = dict(defaults)
    for key in _keys_of(device):
        if replaced is not None and key == replaced[:2]:
            values.update(replaced[2])
        elif key in found:
            values.update(found[key].settings)
    return values


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def starting_settings(session: Session, device: Device) -> dict[str, Any] | None:
    """What the layers over a new device set (enrolment sends it with the answer), so that a
    PC enrolled into a library network runs that network's settings from its first minute.

    Not ``agent_version``: an upgrade is a command the device answers once the new release is
    connected (rollouts.upgrade_enrolled sends it), not a setting taken with the identity."""
    values: dict[str, Any] = {}
    for layer, _name in _layers_of(session, device):
        values.update(layer.settings)
    values.pop(catalogue.AGENT_VERSION, None)
    return values or None


def inherited(session: Session, target: Target, settings: ControllerSettings) -> dict[str, Any]:
    """What ``target``'s devices would run without its layer: the defaults and the wider layers
    (shown on the layer's form, so that a blank field says what it falls back to)."""
    values = catalogue.defaults(settings)
    wider: list[tuple[LayerScope, str]] = []
    if target.scope is not LayerScope.ORGANISATION and target.sites:
        site = target.sites[0]
        wider.append((LayerScope.ORGANISATION, str(site.organisation_id)))
        if target.scope is LayerScope.DEVICE:
            wider.append((LayerScope.SITE, str(site.id)))
    for scope, target_id in wider:
        layer = session.scalar(
            select(ConfigLayer).where(
                ConfigLayer.scope == scope, ConfigLayer.target_id == target_id
            )
        )
        if layer is not None:
            values.update(layer.settings)
    return values
