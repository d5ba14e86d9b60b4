"""The controller's settings: one typed object, loaded once, passed down."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from borne.settings import ImproperlyConfigured, load_settings

ASYNC_MODES = ("gevent", "threading")
SMTP_SECURITY = ("none", "starttls", "ssl")
# The reconditioning thresholds, their unit and their largest sensible value: a figure beyond
# is a unit mistaken (bytes for GiB, days for years), refused at start rather than flagging
# every PC of the city.
RECONDITIONING_LIMITS = (
    ("reconditioning_min_memory_gib", "GiB", 1024),
    ("reconditioning_min_disk_gib", "GiB", 100_000),
    ("reconditioning_max_age_years", "years", 50),
)


@dataclass(frozen=True)
class ControllerSettings:
    data_dir: Path = Path("/var/lib/borne")
    # Empty: a SQLite file in data_dir. PostgreSQL: postgresql+psycopg://user:pw@host/db
    database_url: str = ""
    # SQLite only: "normal" survives a crash of the process, "full" also a power cut (slower).
    sqlite_synchronous: str = "normal"
    # Empty: one process. redis://host:6379/0 lets several processes share Socket.IO.
    redis_url: str = ""
    # Empty: generated once and kept in data_dir/secret_key (mode 0600).
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    async_mode: str = "gevent"
    heartbeat_interval_s: int = 10
    offline_after_missed: int = 3
    enrolment_token_ttl_hours: float = 24.0
    max_request_bytes: int = 1024 * 1024
    event_retention_days: int = 30
    # Staff e-mails the outbox sent (or gave up on) this long ago are forgotten.
    mail_retention_days: int = 90
    # How often each process marks silent devices offline, expires commands and pushes the
    # commands other processes stored for the devices connected to it.
    housekeeping_interval_s: float = 2.0
    # How often the alert rules are evaluated; their tolerances are minutes, so a minute is
    # precise enough and costs five queries whatever the size of the fleet.
    alert_rules_interval_s: float = 60.0
    # How often each process sends the e-mails that are due (new tickets, solved ones).
    mail_interval_s: float = 30.0
    # How often each process sends the settings of rollouts that are due (a scheduled one's
    # spread, a second wave once the first passed its check).
    rollout_interval_s: float = 5.0
    # Wake PCs before opening, shut them down after closing, maintenance at night.
    schedules: bool = True
    timezone: str = "Europe/Paris"  # of the sites' opening hours
    # Agent events wait at most this long to share a transaction with others (group commit).
    flush_linger_ms: int = 10
    # What one device may send: events a second (a replay after an outage may send 5,000 at
    # once) and bytes a day; beyond, its events wait (429), so that no device floods the rest.
    device_events_per_s: float = 100.0
    device_bytes_per_day: int = 64 * 1024 * 1024
    # One heartbeat per device per this many seconds is kept as history; 0 keeps them all.
    heartbeat_history_s: float = 60.0
    session_cookie_secure: bool = False  # set true behind TLS (nginx)
    # The reverse proxies (nginx) whose X-Forwarded-For/-Proto/-Host/-Port are believed: their
    # addresses or networks. A request from anywhere else is taken as it comes.
    trusted_proxies: tuple[str, ...] = ()
    # The address devices and people reach the controller at ("https://borne.example.org"):
    # what pages print in commands to run. Empty: the address the request came to.
    public_url: str = ""
    # The public map of places (/places): its tile server, a URL template with {z}, {x} and {y}
    # ({s} for subdomains), and the attribution its licence asks for. Empty: no map, the list
    # alone (it is complete without one).
    public_map_tiles: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    public_map_attribution: str = "© OpenStreetMap contributors"
    # Staff e-mail (a new ticket to its team, a solved one to its reporter) goes through this
    # SMTP server. Empty: mails wait in the outbox, and the log says so once.
    smtp_host: str = ""
    # 0: the usual port of smtp_security (25 for none, 587 for starttls, 465 for ssl).
    smtp_port: int = 0
    # "starttls" upgrades a plain connection and refuses a server that does not offer it; "ssl"
    # is TLS from the first byte. Either checks the server's certificate and name.
    smtp_security: str = "none"
    # Sign in to the server with these; only over TLS, or to a server on this machine.
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    # The sender of these mails: "borne@ville.example" or "Borne <borne@ville.example>".
    mail_from: str = "borne@localhost"
    # Failed sign-ins before attempts wait (30 s, doubling with each further failure), per
    # account and per address (a library's whole network may share one address).
    # /metrics: with a token, scrapers send "Authorization: Bearer <token>"; without one, only
    # clients on this machine (loopback) may read it.
    metrics_token: str = ""
    sign_in_failures_per_account: int = 5
    sign_in_failures_per_address: int = 20
    # A public PC below these is flagged on its site's equipment page and listed for a
    # reconditioning partner (maintenance/equipment.py); 0 turns a criterion off. Memory is
    # counted as installed (a 4 GB PC reports about 3.7 GiB: the figure is rounded up) and 4 GiB
    # is what Debian with a current browser needs for the forms and video calls residents come
    # for. Disk is the filesystems' total: a disk sold as 64 GB shows about 58 GiB and holds
    # the system, an office suite and years of updates, a 32 GB eMMC (about 29 GiB) fills up.
    # Age is in whole years from the firmware date or first seen: past 8, makers' firmware
    # updates have stopped and fans, disks and power supplies fail often enough that a public
    # place should plan a replacement while the machine can still be reconditioned for a home.
    reconditioning_min_memory_gib: int = 4
    reconditioning_min_disk_gib: int = 50
    reconditioning_max_age_years: int = 8
    # Every hotspot's client network is cut from this private range, each one this size and
    # none overlapping another (a /22 holds about a thousand phones: a busy square's evening).
    # controller/hotspots/address_plan.py allocates them; the hotspot's portal is set from it.
    hotspot_supernet: str = "10.64.0.0/12"
    hotspot_subnet_prefixlen: int = 22
    # The wheels of borne the controller serves its agents to upgrade them (``borne controller
    # agent-release add``; controller/configuration/releases.py). Empty: data_dir/agent-releases.
    agent_releases_dir: Path | None = None
    testing: bool = False

    def __post_init__(self) -> None:
        if self.async_mode not in ASYNC_MODES:
            raise ImproperlyConfigured(
                f"setting async_mode must be one of {', '.join(ASYNC_MODES)}, "
                f"got {self.async_mode!r}"
            )
        for name in (
            "heartbeat_interval_s",
            "offline_after_missed",
            "max_request_bytes",
            "port",
            "sign_in_failures_per_account",
            "sign_in_failures_per_address",
            "device_events_per_s",
            "device_bytes_per_day",
            "event_retention_days",
            "mail_retention_days",
        ):
            if getattr(self, name) < 1:
                raise ImproperlyConfigured(f"setting {name} must be at least 1")
        for name in ("alert_rules_interval_s", "mail_interval_s", "rollout_interval_s"):
            if not 0.1 <= getattr(self, name) <= 3600:
                raise ImproperlyConfigured(
                    f"setting {name} must be between 0.1 and 3600 seconds, "
                    f"got {getattr(self, name)!r}"
                )
        for name, unit, most in RECONDITIONING_LIMITS:
            value = getattr(self, name)
            if not 0 <= value <= most:
                raise ImproperlyConfigured(
                    f"setting {name} must be between 0 (no limit) and {most} {unit}, got {value!r}"
                )
        if self.sqlite_synchronous not in ("normal", "full"):
            raise ImproperlyConfigured(
                "setting sqlite_synchronous must be normal or full, "
                f"got {self.sqlite_synchronous!r}"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ImproperlyConfigured(
                f"setting timezone must be an IANA time zone such as Europe/Paris, "
                f"got {self.timezone!r}"
            ) from None
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ImproperlyConfigured(
                    f"setting trusted_proxies must list addresses or networks such as "
                    f"127.0.0.1 or 10.0.0.0/24, got {proxy!r}"
                ) from None
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ImproperlyConfigured(
                f"setting public_url must start with https:// (or http://), got {self.public_url!r}"
            )
        self._check_map_tiles()
        self._check_smtp()
        self._check_address_plan()
        self._check_releases_dir()
        if self.database_url and not self.database_url.startswith(("sqlite", "postgresql")):
            raise ImproperlyConfigured(
                "setting database_url must be a sqlite:/// or postgresql+psycopg:// URL"
            )

    def _check_address_plan(self) -> None:
        try:
            supernet = ipaddress.IPv4Network(self.hotspot_supernet)
        except ValueError:
            raise ImproperlyConfigured(
                "setting hotspot_supernet must be an IPv4 network such as 10.64.0.0/12 "
                f"(its first address, then the prefix length), got {self.hotspot_supernet!r}"
            ) from None
        if not supernet.is_private:
            raise ImproperlyConfigured(
                f"setting hotspot_supernet must be a private range (RFC 1918), got {supernet}"
            )
        if not supernet.prefixlen <= self.hotspot_subnet_prefixlen <= 29:
            raise ImproperlyConfigured(
                f"setting hotspot_subnet_prefixlen must be between {supernet.prefixlen} (the "
                f"whole of hotspot_supernet) and 29, got {self.hotspot_subnet_prefixlen!r}"
            )

    def _check_releases_dir(self) -> None:
        path = self.agent_releases_dir
        if path is None:
            return
        if not path.is_absolute():
            raise ImproperlyConfigured(
                "setting agent_releases_dir must be an absolute path such as "
                f"/var/lib/borne/agent-releases (empty: in data_dir), got {str(path)!r}"
            )
        if path.exists() and not path.is_dir():
            raise ImproperlyConfigured(
                f"setting agent_releases_dir must be a directory; {path} is a file"
            )

    def _check_map_tiles(self) -> None:
        tiles = self.public_map_tiles
        if not tiles:
            return
        web = tiles.startswith(("https://", "http://")) and not any(c.isspace() for c in tiles)
        if not web or not all(part in tiles for part in ("{z}", "{x}", "{y}")):
            raise ImproperlyConfigured(
                "setting public_map_tiles must be a tile URL template such as "
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png (empty: no map), "
                f"got {tiles!r}"
            )
        if not self.public_map_attribution.strip():
            raise ImproperlyConfigured(
                "setting public_map_attribution must say whose tiles the map shows (their "
                "licence asks for it), such as © OpenStreetMap contributors"
            )

    def _check_smtp(self) -> None:
        if self.smtp_security not in SMTP_SECURITY:
            raise ImproperlyConfigured(
                f"setting smtp_security must be one of {', '.join(SMTP_SECURITY)}, "
                f"got {self.smtp_security!r}"
            )
        if not 0 <= self.smtp_port <= 65535:
            raise ImproperlyConfigured(
                f"setting smtp_port must be between 1 and 65535 (0: the usual one), "
                f"got {self.smtp_port!r}"
            )
        host = self.smtp_host
        if any(c.isspace() for c in host) or (":" in host and not _is_ip(host)):
            raise ImproperlyConfigured(
                f"setting smtp_host must be a host name or an address (the port goes in "
                f"smtp_port), got {host!r}"
            )
        if self.smtp_password and not self.smtp_username:
            raise ImproperlyConfigured("setting smtp_password is set but smtp_username is empty")
        if self.smtp_username and self.smtp_security == "none" and not _is_loopback(host):
            raise ImproperlyConfigured(
                "setting smtp_username needs smtp_security starttls or ssl: the password would "
                "cross the network in clear"
            )
        _name, address = parseaddr(self.mail_from)
        user, _at, domain = address.rpartition("@")
        if not (user and domain and address.isascii()) or any(c.isspace() for c in address):
            raise ImproperlyConfigured(
                "setting mail_from must be an e-mail address such as borne@ville.example or "
                f"Borne <borne@ville.example>, got {self.mail_from!r}"
            )

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'borne.sqlite3'}"

    @property
    def releases_dir(self) -> Path:
        """Where the agents' wheels are kept (made by the first ``agent-release add``)."""
        return self.agent_releases_dir or self.data_dir / "agent-releases"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    return host == "localhost" or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)


def load_controller_settings(
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_file: str | None = None,
) -> ControllerSettings:
    """Settings from ``BORNE_CONFIG`` (a TOML file, table ``[controller]``) and ``BORNE_*``.

    The plain ``DATABASE_URL`` and ``REDIS_URL`` of twelve-factor hosting are honoured too,
    below their ``BORNE_`` spellings. ``env`` defaults to the process environment.
    """
    env = dict(os.environ if env is None else env)
    if config_file is not None:
        env["BORNE_CONFIG"] = config_file
    for plain in ("DATABASE_URL", "REDIS_URL"):
        if plain in env and f"BORNE_{plain}" not in env:
            env[f"BORNE_{plain}"] = env[plain]
    return load_settings(
        ControllerSettings,
        toml_path=env.get("BORNE_CONFIG") or None,
        section="controller",
        env=env,
        overrides=overrides,
    )


def private_data_dir(settings: ControllerSettings) -> Path:
    """The data directory, made if missing, readable by the controller's user only (0700): it
    holds the SQLite database (password hashes, each hotspot's code secret) and the secret key.
    The SQLite file itself is made 0600 (``controller.db``)."""
    path = settings.data_dir
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def secret_key_for(settings: ControllerSettings) -> str:
    """The configured secret key, or one generated on first start and kept on disk."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    private_data_dir(settings)
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(key)
    tmp.replace(path)
    return key
