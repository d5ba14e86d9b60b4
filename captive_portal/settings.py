"""The portal's settings: defaults here, then ``[portal]`` of a TOML file, then ``BORNE_PORTAL_*``.

One object serves both halves of the portal: the web side (modes, languages, limits) and the
network side (interfaces, subnets, nftables, the configuration ``borne portal render`` writes).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from borne.settings import ImproperlyConfigured, load_settings
from captive_portal.managed import NearbyPlace

ENV_PREFIX = "BORNE_PORTAL_"
DEFAULT_STATE_DIR = Path("/var/lib/borne-portal")
DEFAULT_RUNTIME_DIR = Path("/run/borne-portal")
# Where ``borne portal audio`` records the pages' spoken versions (``make portal-audio``).
DEFAULT_AUDIO_DIR = Path(__file__).resolve().parent / "audio"
# Public-service sites a resident may need before connecting (or without connecting at all).
DEFAULT_WALLED_GARDEN = (
    "caf.fr",  # family allowances
    "ameli.fr",  # health insurance
    "francetravail.fr",  # job centre
    "service-public.fr",
    "grenoble.fr",
)


# Private, shared (CGNAT) and link-local ranges: where a city's internal services live.
DEFAULT_BLOCKED_NETWORKS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
)


class PortalMode(enum.StrEnum):
    CLICK = "click"  # one tap, nothing to type (the default)
    CODE = "code"  # a short code of the day or a printed voucher, still no email and no phone
    CLOSED = "closed"  # nobody connects (outside opening hours this is automatic)


class Enforcement(enum.StrEnum):
    NFT = "nft"  # the hotspot: authorised clients in an nftables set
    MEMORY = "memory"  # tests and page previews: a dict, no network effect


@dataclasses.dataclass(frozen=True)
class PortalSettings:
    # -- the hotspot ---------------------------------------------------------------------------
    ssid: str = "Grenoble Wifi Public"
    channel: int = 6
    country_code: str = "FR"
    wifi_interface: str = "wlan0"  # where residents' devices are
    uplink_interface: str = "eth0"  # towards the internet
    client_subnet: str = "10.42.0.0/22"  # IPv4 addresses handed out by DHCP
    client_subnet6: str = ""  # optional IPv6 prefix for clients (a /64), empty for none
    # The portal's own name on the client network (certificate, user-portal-url).
    hostname: str = "portail.wifi.local"
    # -- the web side ---------------------------------------------------------------------------
    listen_address: str = ""  # empty: the first address of client_subnet (the gateway)
    http_port: int = 8080
    https_port: int = 8443
    tls_cert: Path | None = None  # PEM; both empty means HTTP only (the lab makes its own)
    tls_key: Path | None = None
    mode: str = PortalMode.CLICK.value
    # Codes accepted in "code" mode are derived from this secret and the date (code of the day);
    # printed vouchers are kept hashed in state_dir.
    code_secret: str = ""
    # OpenStreetMap opening_hours of the site; empty means always open.
    opening_hours: str = ""
    timezone: str = "Europe/Paris"
    default_language: str = "fr"
    # The "closed" page lists those of these places that are open now or open next (sent by
    # the controller: the nearest public places), and links to the controller's list of places.
    nearby_places: tuple[NearbyPlace, ...] = ()
    places_url: str = ""
    # -- access --------------------------------------------------------------------------------
    enforcement: str = Enforcement.NFT.value
    nft_table: str = "borne_portal"
    session_s: int = 4 * 3600
    bandwidth_kbit: int = 0  # per client, each direction; 0 is no limit
    walled_garden: tuple[str, ...] = DEFAULT_WALLED_GARDEN
    # Never reachable from the client network, connected or not: the city's own networks.
    blocked_networks: tuple[str, ...] = DEFAULT_BLOCKED_NETWORKS
    max_clients: int = 250
    connects_per_minute: int = 10  # per client address: taps on Connect (and code guesses)
    # -- files ---------------------------------------------------------------------------------
    state_dir: Path = DEFAULT_STATE_DIR
    # The day's salt and the day's device hashes: in memory and on tmpfs only, never on a disk
    # or in a backup, where the few million possible MACs of a vendor could be tried against
    # them. A reboot forgets them (the day's distinct devices are counted anew).
    runtime_dir: Path = DEFAULT_RUNTIME_DIR
    # The "Listen" recordings; a page without its recording there shows no player.
    audio_dir: Path = DEFAULT_AUDIO_DIR

    def __post_init__(self) -> None:
        _one_of("mode", self.mode, PortalMode)
        _one_of("enforcement", self.enforcement, Enforcement)
        try:
            subnet = ipaddress.IPv4Network(self.client_subnet)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"setting client_subnet must be an IPv4 network such as 10.42.0.0/22, "
                f"got {self.client_subnet!r}"
            ) from exc
        if subnet.prefixlen > 29:
            raise ImproperlyConfigured(
                f"setting client_subnet {self.client_subnet} is too small for clients (/29 at most)"
            )
        if self.client_subnet6:
            try:
                ipaddress.IPv6Network(self.client_subnet6)
            except ValueError as exc:
                raise ImproperlyConfigured(
                    f"setting client_subnet6 must be an IPv6 prefix, got {self.client_subnet6!r}"
                ) from exc
        if self.listen_address:
            try:
                ipaddress.ip_address(self.listen_address)
            except ValueError as exc:
                raise ImproperlyConfigured(
                    f"setting listen_address must be an IP address, got {self.listen_address!r}"
                ) from exc
        for name in ("http_port", "https_port"):
            if not 1 <= getattr(self, name) <= 65535:
                raise ImproperlyConfigured(f"setting {name} must be between 1 and 65535")
        if not 1 <= self.channel <= 196:
            raise ImproperlyConfigured(f"setting channel must be a wifi channel: {self.channel}")
        if not 1 <= len(self.ssid.encode()) <= 32:
            raise ImproperlyConfigured("setting ssid must be 1 to 32 bytes long")
        for network in self.blocked_networks:
            try:
                ipaddress.ip_network(network)
            except ValueError as exc:
                raise ImproperlyConfigured(
                    f"setting blocked_networks: {network!r} is not a network such as 10.0.0.0/8"
                ) from exc
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ImproperlyConfigured("settings tls_cert and tls_key go together: set both")
        if not 60 <= self.session_s <= 7 * 86400:
            raise ImproperlyConfigured("setting session_s must be between 60 s and 7 days")
        for name in ("bandwidth_kbit",):
            if getattr(self, name) < 0:
                raise ImproperlyConfigured(f"setting {name} must not be negative")
        for name in ("max_clients", "connects_per_minute"):
            if getattr(self, name) < 1:
                raise ImproperlyConfigured(f"setting {name} must be at least 1")
        if self.mode == PortalMode.CODE and not self.code_secret:
            raise ImproperlyConfigured('setting code_secret is required when mode is "code"')
        self._check_nearby_places()

    def _check_nearby_places(self) -> None:
        """Places from a TOML file come as tables: made :class:`NearbyPlace` here."""
        try:
            places = tuple(msgspec.convert(p, NearbyPlace) for p in self.nearby_places)
        except msgspec.ValidationError as exc:
            raise ImproperlyConfigured(
                f"setting nearby_places: each place needs a name, and may have an address, "
                f"opening_hours (OpenStreetMap syntax) and distance_m: {exc}"
            ) from None
        object.__setattr__(self, "nearby_places", places)  # frozen: set once, while made
        if self.places_url and not self.places_url.startswith(("https://", "http://")):
            raise ImproperlyConfigured(
                f"setting places_url must start with https:// (or http://), got {self.places_url!r}"
            )

    @property
    def gateway_address(self) -> str:
        """The portal's address on the client network."""
        if self.listen_address:
            return self.listen_address
        return str(next(ipaddress.IPv4Network(self.client_subnet).hosts()))

    @property
    def gateway_address6(self) -> str:
        """The portal's IPv6 address on the client network (the prefix's ``::1``), or ``""``
        when clients get no IPv6."""
        if not self.client_subnet6:
            return ""
        return str(ipaddress.IPv6Network(self.client_subnet6)[1])


def _one_of(name: str, value: str, choices: type[enum.StrEnum]) -> None:
    if value not in {c.value for c in choices}:
        allowed = ", ".join(c.value for c in choices)
        raise ImproperlyConfigured(f"setting {name} must be one of {allowed}, got {value!r}")


def load_portal_settings(
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PortalSettings:
    """Load :class:`PortalSettings`; raises :class:`ImproperlyConfigured` naming the bad setting."""
    return load_settings(
        PortalSettings,
        toml_path=config_file,
        section="portal",
        env=env,
        env_prefix=ENV_PREFIX,
        overrides=overrides,
    )
