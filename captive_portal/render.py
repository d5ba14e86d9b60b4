"""``borne portal render``: the hotspot's hostapd, dnsmasq and nftables files from its settings.

Pure functions return each file's text; the command checks everything first and writes only when
all of it is valid, so a typo never leaves a half-configured hotspot. Every value that lands in a
configuration file is checked here: a newline in a walled-garden domain would otherwise add any
dnsmasq option its author liked.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from borne.settings import ImproperlyConfigured
from captive_portal.ipplan import ClientNetworkPlan, plan_client_network
from captive_portal.nft import GARDEN4, GARDEN6, portal_ruleset
from captive_portal.settings import PortalSettings, load_portal_settings

HOSTAPD_FILE = "hostapd.conf"
DNSMASQ_FILE = "dnsmasq.conf"
NFT_FILE = "borne-portal.nft"
# The 2.4 GHz band has channels 1 to 14; every higher channel number is 5 GHz (hw_mode a).
LAST_24GHZ_CHANNEL = 14
# DHCP option 114 (RFC 8910 §2.1) and DHCPv6 option 103 (§2.2): the captive portal API's URI.
DHCP_OPTION_CAPTIVE = 114
DHCPV6_OPTION_CAPTIVE = 103
# An answer cached longer than this is asked again, which refills the walled-garden sets.
MAX_CACHE_TTL_S = 3600

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def captive_api_url(settings: PortalSettings) -> str:
    """The RFC 8908 API's URI, always HTTPS (RFC 8908 §2: the API MUST be served over TLS)."""
    return f"https://{settings.hostname}:{settings.https_port}/api/captive"


def hostapd_conf(settings: PortalSettings) -> str:
    """An open network (no password: the portal is the only step) on the settings' channel."""
    _check_hostapd(settings)
    five_ghz = settings.channel > LAST_24GHZ_CHANNEL
    lines = [
        "# Written by borne portal render: an open network, residents accept the terms on the",
        "# captive portal.",
        f"interface={settings.wifi_interface}",
        "driver=nl80211",
        f"ssid={settings.ssid}",
        "utf8_ssid=1",
        f"country_code={settings.country_code}",
        "ieee80211d=1",
        f"hw_mode={'a' if five_ghz else 'g'}",
        f"channel={settings.channel}",
        "ieee80211n=1",
        "wmm_enabled=1",
        *(["ieee80211h=1", "ieee80211ac=1"] if five_ghz else []),
        "auth_algs=1",
        "wpa=0",
        "ignore_broadcast_ssid=0",
        # Residents' devices must not see each other on a public network.
        "ap_isolate=1",
        f"max_num_sta={settings.max_clients}",
    ]
    return "\n".join(lines) + "\n"


def dnsmasq_conf(settings: PortalSettings, plan: ClientNetworkPlan) -> str:
    """DHCP and DNS for the clients, RFC 8910 options, the walled garden's nftables sets."""
    domains = _checked_domains(settings)
    hostname = _checked_hostname(settings.hostname)
    api = captive_api_url(settings)
    table = settings.nft_table
    lines = [
        "# Written by borne portal render: DHCP and DNS for the hotspot's clients.",
        f"interface={settings.wifi_interface}",
        "bind-dynamic",
        "domain-needed",
        "bogus-priv",
        "dhcp-authoritative",
        f"dhcp-range={plan.dhcp_first},{plan.dhcp_last},{plan.netmask},{plan.lease_s}s",
        f"dhcp-option=option:router,{plan.gateway}",
        f"dhcp-option=option:dns-server,{plan.gateway}",
        "# RFC 8910: tell devices where the captive portal API is (RFC 8908).",
        f'dhcp-option={DHCP_OPTION_CAPTIVE},"{api}"',
        "# The portal's own name.",
        f"address=/{hostname}/{plan.gateway}",
    ]
    if plan.subnet6 is not None and plan.gateway6 is not None:
        lines += [
            "# IPv6: SLAAC from router advertisements, stateless DHCPv6 for DNS and the portal.",
            "enable-ra",
            f"dhcp-range={plan.subnet6.network},ra-stateless,{plan.subnet6.prefixlen},"
            f"{plan.lease_s}s",
            f"dhcp-option=option6:dns-server,[{plan.gateway6}]",
            f'dhcp-option=option6:{DHCPV6_OPTION_CAPTIVE},"{api}"',
            f"address=/{hostname}/{plan.gateway6}",
        ]
    lines += [
        "# Walled garden: the addresses these domains resolve to are reachable before",
        "# connecting (nftables sets filled at each answer).",
        f"max-cache-ttl={MAX_CACHE_TTL_S}",
    ]
    if domains:
        sets = f"4#inet#{table}#{GARDEN4},6#inet#{table}#{GARDEN6}"
        lines.append(f"nftset=/{'/'.join(domains)}/{sets}")
    return "\n".join(lines) + "\n"


def render_files(
    settings: PortalSettings, garden_addresses: tuple[str, ...] = ()
) -> dict[str, str]:
    """Every file by name; raises :class:`ImproperlyConfigured` before anything is written."""
    plan = plan_client_network(settings)
    return {
        HOSTAPD_FILE: hostapd_conf(settings),
        DNSMASQ_FILE: dnsmasq_conf(settings, plan),
        NFT_FILE: portal_ruleset(settings, garden_addresses, gateway6=settings.gateway_address6),
    }


def write_files(files: dict[str, str], out: Path) -> None:
    """Write each file atomically (a service reloading mid-write never reads half a file)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(out / name)


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file with a [portal] table (defaults otherwise).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to write hostapd.conf, dnsmasq.conf and borne-portal.nft into.",
)
@click.option(
    "--garden-address",
    "garden_addresses",
    multiple=True,
    help="A fixed walled-garden IP address (repeatable), beside the garden's domains.",
)
def render(config_file: Path | None, out: Path, garden_addresses: tuple[str, ...]) -> None:
    """Write the hotspot's hostapd, dnsmasq and nftables configuration."""
    try:
        settings = load_portal_settings(config_file=config_file)
        files = render_files(settings, garden_addresses)
    except ImproperlyConfigured as exc:
        click.echo(f"borne portal render: {exc}", err=True)
        sys.exit(2)
    write_files(files, out)
    for name in files:
        click.echo(str(out / name))


def _check_hostapd(settings: PortalSettings) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in settings.ssid):
        raise ImproperlyConfigured("setting ssid must not contain control characters")
    if not _COUNTRY.match(settings.country_code):
        raise ImproperlyConfigured(
            f"setting country_code must be two capital letters (ISO 3166-1), "
            f"got {settings.country_code!r}"
        )
    _checked_interface("wifi_interface", settings.wifi_interface)


def _checked_interface(setting: str, name: str) -> str:
    # Linux interface names: at most 15 bytes, no '/', no whitespace (IFNAMSIZ, dev_valid_name).
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", name):
        raise ImproperlyConfigured(f"setting {setting} is not an interface name: {name!r}")
    return name


def _checked_hostname(hostname: str) -> str:
    if not _DOMAIN.match(hostname.lower()):
        raise ImproperlyConfigured(
            f"setting hostname must be a DNS name such as portail.wifi.local, got {hostname!r}"
        )
    return hostname.lower()


def _checked_domains(settings: PortalSettings) -> list[str]:
    _checked_interface("wifi_interface", settings.wifi_interface)
    if isinstance(settings.walled_garden, str):
        raise ImproperlyConfigured("setting walled_garden must be a list of domains")
    domains = []
    for domain in settings.walled_garden:
        if not isinstance(domain, str) or not _DOMAIN.match(domain.lower()):
            raise ImproperlyConfigured(
                f"setting walled_garden: {domain!r} is not a domain such as service-public.fr"
            )
        domains.append(domain.lower())
    return domains
