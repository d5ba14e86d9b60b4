"""The agent's settings: defaults here, then ``[agent]`` of a TOML file, then ``BORNE_AGENT_*``,
then what the controller set remotely.

Remote settings (the ``update_config`` command) are kept in ``<state_dir>/remote-settings.json``
(mode 0600) and, at start, override the file and the environment for the few settings the
controller may change (:class:`~agent.protocol.UpdateConfigArgs`: heartbeat and inventory
intervals, device name). Why they win: they are the latest decision of the staff who run the
fleet, and the controller's page shows them; a local value that silently beat them would make the
command report success while nothing changed. The agent logs each override at start, naming the
file; deleting the file gives the local values back.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from agent.private_files import write_private_json
from agent.protocol import DeviceKind, UpdateConfigArgs
from borne.settings import ImproperlyConfigured, load_settings

log = logging.getLogger(__name__)

ENV_PREFIX = "BORNE_AGENT_"
DEFAULT_STATE_DIR = Path("/var/lib/borne-agent")
REMOTE_SETTINGS_FILE = "remote-settings.json"


class ActionsMode(enum.StrEnum):
    """Which implementation runs the commands' system actions (:mod:`agent.actions`)."""

    SYSTEM = "system"
    SIMULATED = "simulated"  # the demo and the tests: records what it was asked


def check_controller_url(url: str, allow_insecure_http: bool = False) -> None:
    """Refuse a controller address the device's secret should not travel to: not http(s), or
    plain http:// to another machine (unless ``allow_insecure_http``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"setting controller_url must start with http:// or https://, got {url!r}"
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ImproperlyConfigured(
            f"the controller at {url} is not on this machine and is not https://: the device's "
            "secret would travel in clear. Use the controller's https:// address, or set "
            "allow_insecure_http = true (BORNE_AGENT_ALLOW_INSECURE_HTTP=1) on a closed network"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass(frozen=True)
class AgentSettings:
    """Everything the agent can be told; the controller's address may come from enrolment."""

    # Empty means "the address stored in credentials.json at enrolment".
    controller_url: str = ""
    # The device's secret travels in every request: plain http:// only to this machine, unless
    # this says otherwise (a closed test network).
    allow_insecure_http: bool = False
    state_dir: Path = DEFAULT_STATE_DIR
    # The name staff see for this device; empty means its host name.
    device_name: str = ""
    # None means "what the controller said at enrolment" (10 s if it said nothing usable).
    heartbeat_interval_s: int | None = None
    inventory_interval_s: float = 86_400.0
    spool_max_events: int = 50_000
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    http_timeout_s: float = 10.0
    # After an upgrade (agent_version, agent/upgrade.py), how long the new version has to reach
    # the controller before its guard puts the previous one back.
    upgrade_timeout_s: int = 300
    # "system" runs real commands (loginctl, systemctl, apt-get …); "simulated" only records them.
    actions: str = ActionsMode.SYSTEM.value
    # Where wake-on-LAN magic packets go (UDP); a subnet's directed broadcast also works.
    wol_broadcast: str = "255.255.255.255"
    wol_port: int = 9
    # Public PCs: the account residents use (never a staff or system account), the folder its
    # fresh home is copied from, and the site's session limits (the controller sets the latter).
    guest_user: str = "borne-guest"
    guest_skeleton: Path = Path("/etc/borne/guest-skel")
    idle_timeout_s: int = 900
    max_session_s: int = 0  # 0: no limit
    # The language (two letters) and time zone of what a public PC tells residents: the
    # end-of-session warnings. The controller sends its site's.
    site_language: str = "fr"
    site_timezone: str = "Europe/Paris"
    # Hotspots: where the captive portal writes its statistics (stats.json).
    portal_state_dir: Path = Path("/var/lib/borne-portal")
    portal_stats_interval_s: float = 30.0  # how often its statistics are read and forwarded
    # What the device does, when it is more than the one role of the kind it was enrolled as (a
    # charging kiosk that is also the wifi hotspot: ["kiosk", "hotspot"], or
    # BORNE_AGENT_ROLES=kiosk,hotspot); empty means that one role. See roles_of().
    roles: tuple[str, ...] = ()
    # Charging kiosks (agent.kiosk): the locker driver — "modbus" (a serial lock board), "gpio"
    # (locks wired to GPIO lines) or "simulated"; empty means simulated on a simulated device
    # (actions = "simulated", the demo) and is refused on a real kiosk.
    kiosk_driver: str = ""
    kiosk_lockers: int = 8
    # simulated: a hand shuts each door this many seconds after it opened (0: never; the demo
    # sets it, so that a newcomer at a browser can charge and take back a phone).
    kiosk_simulated_hand_s: float = 0.0
    # modbus: the board's serial port, unit id and speed, and where its lock coils and door
    # inputs start (agent/kiosk/drivers/modbus.py has the register map).
    kiosk_serial_port: str = ""
    kiosk_modbus_unit: int = 1
    kiosk_modbus_baud: int = 9600
    kiosk_modbus_first_coil: int = 0
    kiosk_modbus_first_input: int = 0
    # gpio: the chip's device file, one lock line and one door line per locker (in order), and
    # whether the relays are driven by a low line and a shut door pulls its line low.
    kiosk_gpio_chip: str = ""
    kiosk_gpio_lock_lines: tuple[int, ...] = ()
    kiosk_gpio_door_lines: tuple[int, ...] = ()
    kiosk_gpio_lock_active_low: bool = False
    kiosk_gpio_door_active_low: bool = False
    # The touch page, on 127.0.0.1 only (Chromium in kiosk mode shows it).
    kiosk_port: int = 8010
    # A receipt printer's device file taking plain text / ESC-POS (/dev/usb/lp0); empty: none.
    kiosk_receipt_printer: str = ""

    def __post_init__(self) -> None:
        if self.actions not in {m.value for m in ActionsMode}:
            raise ImproperlyConfigured(
                f"setting actions must be one of {', '.join(m.value for m in ActionsMode)}, "
                f"got {self.actions!r}"
            )
        try:
            ipaddress.IPv4Address(self.wol_broadcast)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"setting wol_broadcast must be an IPv4 address, got {self.wol_broadcast!r}"
            ) from exc
        if not 1 <= self.wol_port <= 65535:
            raise ImproperlyConfigured(
                f"setting wol_port must be between 1 and 65535, got {self.wol_port!r}"
            )
        if self.controller_url:
            check_controller_url(self.controller_url, self.allow_insecure_http)
        if self.heartbeat_interval_s is not None and not 1 <= self.heartbeat_interval_s <= 3600:
            raise ImproperlyConfigured(
                f"setting heartbeat_interval_s must be between 1 and 3600 seconds, "
                f"got {self.heartbeat_interval_s!r}"
            )
        for name in (
            "inventory_interval_s",
            "backoff_min_s",
            "http_timeout_s",
            "portal_stats_interval_s",
        ):
            if getattr(self, name) <= 0:
                raise ImproperlyConfigured(
                    f"setting {name} must be positive, got {getattr(self, name)!r}"
                )
        if self.backoff_max_s < self.backoff_min_s:
            raise ImproperlyConfigured(
                f"setting backoff_max_s ({self.backoff_max_s}) must not be below "
                f"backoff_min_s ({self.backoff_min_s})"
            )
        if not 120 <= self.idle_timeout_s <= 86400:
            raise ImproperlyConfigured(
                f"setting idle_timeout_s must be between 120 and 86400 seconds, "
                f"got {self.idle_timeout_s!r}"
            )
        if not 0 <= self.max_session_s <= 86400:
            raise ImproperlyConfigured(
                f"setting max_session_s must be between 0 (no limit) and 86400 seconds, "
                f"got {self.max_session_s!r}"
            )
        if not (len(self.site_language) == 2 and self.site_language.isalpha()):
            raise ImproperlyConfigured(
                f"setting site_language must be a two-letter code such as fr, "
                f"got {self.site_language!r}"
            )
        try:
            ZoneInfo(self.site_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"setting site_timezone must be a time zone such as Europe/Paris, "
                f"got {self.site_timezone!r}"
            ) from exc
        if not self.guest_user or self.guest_user == "root":
            raise ImproperlyConfigured(f"setting guest_user cannot be {self.guest_user!r}")
        if not 10 <= self.upgrade_timeout_s <= 3600:
            raise ImproperlyConfigured(
                f"setting upgrade_timeout_s must be between 10 and 3600 seconds, "
                f"got {self.upgrade_timeout_s!r}"
            )
        if self.spool_max_events < 100:
            raise ImproperlyConfigured(
                f"setting spool_max_events must be at least 100, got {self.spool_max_events!r}"
            )
        object.__setattr__(self, "roles", tuple(self.roles))  # a list given in code, too
        known = [kind.value for kind in DeviceKind]
        for name in self.roles:
            if name not in known:
                raise ImproperlyConfigured(
                    f"setting roles may name {', '.join(known)}, got {name!r}"
                )
            if self.roles.count(name) > 1:
                raise ImproperlyConfigured(f"setting roles names {name!r} twice")
        self._check_kiosk()

    def _check_kiosk(self) -> None:
        """The kiosk_* settings; those of a driver only when it is the one chosen."""
        drivers = ("simulated", "modbus", "gpio")
        for name in ("kiosk_gpio_lock_lines", "kiosk_gpio_door_lines"):
            object.__setattr__(self, name, tuple(getattr(self, name)))  # a list given in code
        if self.kiosk_driver not in ("", *drivers):
            raise ImproperlyConfigured(
                f"setting kiosk_driver must be one of {', '.join(drivers)}, "
                f"got {self.kiosk_driver!r}"
            )
        if not 1 <= self.kiosk_lockers <= 64:
            raise ImproperlyConfigured(
                f"setting kiosk_lockers must be between 1 and 64, got {self.kiosk_lockers!r}"
            )
        if not 0 <= self.kiosk_simulated_hand_s <= 3600:
            raise ImproperlyConfigured(
                "setting kiosk_simulated_hand_s must be between 0 (no hand) and 3600 seconds, "
                f"got {self.kiosk_simulated_hand_s!r}"
            )
        if not 1 <= self.kiosk_port <= 65535:
            raise ImproperlyConfigured(
                f"setting kiosk_port must be between 1 and 65535, got {self.kiosk_port!r}"
            )
        if self.kiosk_receipt_printer and not self.kiosk_receipt_printer.startswith("/"):
            raise ImproperlyConfigured(
                f"setting kiosk_receipt_printer must be a device file such as /dev/usb/lp0, "
                f"or empty for none, got {self.kiosk_receipt_printer!r}"
            )
        if self.kiosk_driver == "modbus":
            self._check_kiosk_modbus()
        if self.kiosk_driver == "gpio":
            self._check_kiosk_gpio()

    def _check_kiosk_modbus(self) -> None:
        if not self.kiosk_serial_port:
            raise ImproperlyConfigured(
                "setting kiosk_serial_port is required with kiosk_driver = modbus: the lock "
                "board's serial port, such as /dev/ttyUSB0"
            )
        if not 1 <= self.kiosk_modbus_unit <= 247:
            raise ImproperlyConfigured(
                f"setting kiosk_modbus_unit must be the board's unit id, 1 to 247, "
                f"got {self.kiosk_modbus_unit!r}"
            )
        bauds = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
        if self.kiosk_modbus_baud not in bauds:
            raise ImproperlyConfigured(
                f"setting kiosk_modbus_baud must be one of {', '.join(map(str, bauds))}, "
                f"got {self.kiosk_modbus_baud!r}"
            )
        for name in ("kiosk_modbus_first_coil", "kiosk_modbus_first_input"):
            if not 0 <= getattr(self, name) <= 65536 - self.kiosk_lockers:
                raise ImproperlyConfigured(
                    f"setting {name} must be a Modbus address from 0 that leaves room for "
                    f"{self.kiosk_lockers} lockers (kiosk_lockers), got {getattr(self, name)!r}"
                )

    def _check_kiosk_gpio(self) -> None:
        if not self.kiosk_gpio_chip:
            raise ImproperlyConfigured(
                "setting kiosk_gpio_chip is required with kiosk_driver = gpio: the chip's "
                "device file, such as /dev/gpiochip0 (gpiodetect lists them)"
            )
        seen: set[int] = set()
        for name in ("kiosk_gpio_lock_lines", "kiosk_gpio_door_lines"):
            lines: tuple[int, ...] = getattr(self, name)
            if len(lines) != self.kiosk_lockers:
                raise ImproperlyConfigured(
                    f"setting {name} must list one line per locker ({self.kiosk_lockers}, "
                    f"kiosk_lockers), got {list(lines)}"
                )
            for line in lines:
                if line < 0:
                    raise ImproperlyConfigured(
                        f"setting {name}: {line} is not a line offset (0 or more, as gpioinfo "
                        f"numbers them)"
                    )
                if line in seen:
                    raise ImproperlyConfigured(
                        f"setting {name}: line {line} is used twice (each lock and each door "
                        f"has its own line)"
                    )
                seen.add(line)

    def roles_of(self, kind: DeviceKind) -> tuple[DeviceKind, ...]:
        """The roles the device runs: ``roles``, or the one of ``kind``, the kind it was enrolled
        as. ``roles`` must name that kind: the controller sends the device that kind's commands
        and settings."""
        if not self.roles:
            return (DeviceKind(kind),)
        if kind not in self.roles:
            raise ImproperlyConfigured(
                f"setting roles ({', '.join(self.roles)}) must include {kind}, "
                f"the kind this device was enrolled as"
            )
        return tuple(DeviceKind(name) for name in self.roles)


def load_agent_settings(
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AgentSettings:
    """Load :class:`AgentSettings`; raises :class:`ImproperlyConfigured` naming the bad setting."""
    return load_settings(
        AgentSettings,
        toml_path=config_file,
        section="agent",
        env=env,
        env_prefix=ENV_PREFIX,
        overrides={k: v for k, v in (overrides or {}).items() if v is not None},
    )


# -- remote settings ----------------------------------------------------------------------------


def remote_settings_path(state_dir: Path) -> Path:
    return Path(state_dir) / REMOTE_SETTINGS_FILE


def load_remote_settings(state_dir: Path) -> UpdateConfigArgs:
    """What the controller set so far (nothing if the file is missing or damaged)."""
    path = remote_settings_path(state_dir)
    try:
        return msgspec.json.decode(path.read_bytes(), type=UpdateConfigArgs)
    except FileNotFoundError:
        return UpdateConfigArgs()
    except (OSError, msgspec.DecodeError) as exc:
        # A damaged file must not stop the agent: it runs on its local settings and says so.
        log.error("ignoring %s: %s", path, exc)
        return UpdateConfigArgs()


def save_remote_settings(state_dir: Path, update: UpdateConfigArgs) -> UpdateConfigArgs:
    """Merge ``update`` (its non-None fields) into the stored remote settings; return the result.

    Written atomically with mode 0600 (the same way as the credentials).
    """
    merged = merge_remote_settings(load_remote_settings(state_dir), update)
    path = remote_settings_path(state_dir)
    write_private_json(path, merged)
    return merged


def merge_remote_settings(base: UpdateConfigArgs, update: UpdateConfigArgs) -> UpdateConfigArgs:
    changes = {f: v for f in update.__struct_fields__ if (v := getattr(update, f)) is not None}
    return msgspec.structs.replace(base, **changes)


def with_remote_settings(settings: AgentSettings, remote: UpdateConfigArgs) -> AgentSettings:
    """``settings`` with the remote values on top (see the module docstring for why)."""
    changes: dict[str, Any] = {}
    own = {field.name for field in dataclasses.fields(settings)}
    # The portal_* settings are the captive portal's: agent.hotspot hands them over.
    for name in (name for name in remote.__struct_fields__ if name in own):
        value = getattr(remote, name)
        if value is not None and value != getattr(settings, name):
            log.info(
                "setting %s = %r set by the controller (%s) overrides the local %r",
                name,
                value,
                REMOTE_SETTINGS_FILE,
                getattr(settings, name),
            )
            changes[name] = value
    return dataclasses.replace(settings, **changes) if changes else settings
