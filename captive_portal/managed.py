"""Settings the city's controller sets for this hotspot, handed over by the hotspot's agent.

City IT changes a hotspot's mode, opening hours or session length on the controller, not in a
file on each gateway. The controller sends them to the hotspot's agent (``update_config``), which
writes ``<state_dir>/managed-settings.json``; the portal reads it at start and every few seconds
after (:class:`ManagedSettingsWatch`), so a mode changed at the town hall reaches residents'
phones within seconds, without a restart and without disconnecting anybody.

Values in this file override the TOML file's: once a hotspot is managed from the controller, the
controller is the truth. Only the web side is managed this way; the network side (interfaces,
subnets, nftables) needs ``borne portal render`` and a restart, and stays in the TOML file.

The file holds the secret the codes of "code" mode derive from: it is written 0600, atomically.
This module needs only msgspec and the standard library, so the agent can import it without the
web stack.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from borne.settings import ImproperlyConfigured

if TYPE_CHECKING:
    from captive_portal.settings import PortalSettings

log = logging.getLogger(__name__)
MANAGED_FILE = "managed-settings.json"


class NearbyPlace(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A public place near the hotspot, listed on the "closed" page (:mod:`captive_portal.nearby`),
    as the controller sends it (``agent.protocol.NearbyPlace``)."""

    name: str
    address: str = ""
    opening_hours: str = "24/7"  # OpenStreetMap syntax
    distance_m: int = 0


class ManagedSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The managed fields, named as in :class:`~captive_portal.settings.PortalSettings`;
    ``None`` leaves the TOML file's value."""

    mode: str | None = None
    opening_hours: str | None = None
    timezone: str | None = None
    session_s: int | None = None
    code_secret: str | None = None
    nearby_places: tuple[NearbyPlace, ...] | None = None
    places_url: str | None = None

    def overrides(self) -> dict[str, object]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not None}


class DamagedManagedSettings(Exception):
    """The file is there but cannot be used; the portal keeps the settings it has."""


def managed_settings_path(state_dir: Path) -> Path:
    return Path(state_dir) / MANAGED_FILE


def write_managed_settings(state_dir: Path, managed: ManagedSettings) -> None:
    """Replace the file atomically (the portal never reads half of it), readable by root only."""
    path = managed_settings_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(msgspec.json.encode(managed))
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def read_managed_settings(state_dir: Path) -> ManagedSettings | None:
    """The managed settings, None when the hotspot is not managed (no file).

    Raises :class:`DamagedManagedSettings` for a file that is not valid JSON of the right shape.
    """
    try:
        data = managed_settings_path(state_dir).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DamagedManagedSettings(f"cannot read {MANAGED_FILE}: {exc.strerror}") from exc
    try:
        return msgspec.json.decode(data, type=ManagedSettings)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DamagedManagedSettings(f"{MANAGED_FILE} is damaged: {exc}") from exc


def with_managed_settings(settings: PortalSettings) -> PortalSettings:
    """``settings`` with the managed file of its ``state_dir`` on top.

    Raises :class:`DamagedManagedSettings`, or ``ImproperlyConfigured`` naming a managed value
    the portal refuses (the same checks as the TOML file's).
    """
    managed = read_managed_settings(settings.state_dir)
    if managed is None:
        return settings
    return dataclasses.replace(settings, **managed.overrides())  # type: ignore[arg-type]


class ManagedSettingsWatch:
    """Applies the managed file on top of the TOML file's ``base`` whenever the file changes.

    A damaged file or a refused value is logged once and the portal keeps what it has: a bad
    push must not close a hotspot that works.
    """

    def __init__(self, base: PortalSettings, apply: Callable[[PortalSettings], None]) -> None:
        """``apply`` raises ``ImproperlyConfigured`` for settings it refuses (bad hours)."""
        self.base = base
        self._apply = apply
        self._seen: bytes | None = None

    def check(self) -> bool:
        """Apply the file if it changed since the last look; True when something was applied.

        The file is compared whole (it is under 1 KB): a time stamp or a size can stay the same
        across a change (a session of 14400 s becoming 28800 s, within one second).
        """
        path = managed_settings_path(self.base.state_dir)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            content = b""  # gone: back to the TOML file's values
        except OSError as exc:
            log.error("cannot read %s, keeping the current settings: %s", path, exc.strerror)
            return False
        if content == self._seen:
            return False
        self._seen = content
        try:
            settings = with_managed_settings(self.base)
            self._apply(settings)
        except (DamagedManagedSettings, ImproperlyConfigured) as exc:
            log.error("settings from the controller not applied, keeping the current ones: %s", exc)
            return False
        log.warning(
            "portal settings now: mode %s, opening hours %r, sessions of %d s",
            settings.mode,
            settings.opening_hours or "always",
            settings.session_s,
        )
        return True
