"""The controller's settings: one typed object, loaded once, passed down."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from borne.settings import ImproperlyConfigured, load_settings

ASYNC_MODES = ("gevent", "threading")


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
    # How often each process marks silent devices offline, expires commands and pushes the
    # commands other processes stored for the devices connected to it.
    housekeeping_interval_s: float = 2.0
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
    # Failed sign-ins before attempts wait (30 s, doubling with each further failure), per
    # account and per address (a library's whole network may share one address).
    # /metrics: with a token, scrapers send "Authorization: Bearer <token>"; without one, only
    # clients on this machine (loopback) may read it.
    metrics_token: str = ""
    sign_in_failures_per_account: int = 5
    sign_in_failures_per_address: int = 20
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
        ):
            if getattr(self, name) < 1:
                raise ImproperlyConfigured(f"setting {name} must be at least 1")
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
        if self.database_url and not self.database_url.startswith(("sqlite", "postgresql")):
            raise ImproperlyConfigured(
                "setting database_url must be a sqlite:/// or postgresql+psycopg:// URL"
            )

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'borne.sqlite3'}"


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
