"""``borne portal render``: hostapd, dnsmasq and nftables files from the hotspot's settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from borne.settings import ImproperlyConfigured
from captive_portal.ipplan import plan_client_network
from captive_portal.render import dnsmasq_conf, hostapd_conf, render, render_files
from captive_portal.settings import PortalSettings
from tests.captive_portal.netns import scratch_netns

LAB_TOML = """
[portal]
ssid = "Bibliothèque Wifi"
channel = 36
wifi_interface = "wifi0"
uplink_interface = "uplink0"
client_subnet = "10.42.0.0/22"
client_subnet6 = "2001:db8:42::/64"
hostname = "portail.lab.test"
https_port = 8443
walled_garden = ["caf.fr", "garden.lab.test"]
"""


def write_config(tmp_path: Path, text: str = LAB_TOML) -> Path:
    config = tmp_path / "portal.toml"
    config.write_text(text)
    return config


def run_render(tmp_path: Path, config: Path, *extra: str) -> tuple[int, str, Path]:
    out = tmp_path / "out"
    result = CliRunner().invoke(render, ["--config", str(config), "--out", str(out), *extra])
    return result.exit_code, result.output, out


def test_render_writes_three_files_that_the_real_tools_accept(tmp_path: Path) -> None:
    code, output, out = run_render(
        tmp_path, write_config(tmp_path), "--garden-address", "203.0.113.20"
    )

    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == [
        "borne-portal.nft",
        "dnsmasq.conf",
        "hostapd.conf",
    ]
    check = subprocess.run(
        ["dnsmasq", "--test", "-C", str(out / "dnsmasq.conf")], capture_output=True, text=True
    )
    assert "syntax check OK" in check.stderr, check.stderr
    with scratch_netns() as netns:
        nft = subprocess.run(
            ["ip", "netns", "exec", netns, "nft", "-c", "-f", str(out / "borne-portal.nft")],
            capture_output=True,
            text=True,
        )
    assert nft.returncode == 0, nft.stderr


def test_dnsmasq_points_devices_at_the_captive_api_rfc8910() -> None:
    settings = PortalSettings(client_subnet6="2001:db8:42::/64", hostname="portail.lab.test")

    conf = dnsmasq_conf(settings, plan_client_network(settings))

    assert 'dhcp-option=114,"https://portail.lab.test:8443/api/captive"' in conf
    assert 'dhcp-option=option6:103,"https://portail.lab.test:8443/api/captive"' in conf
    assert "address=/portail.lab.test/10.42.0.1" in conf
    assert "address=/portail.lab.test/2001:db8:42::1" in conf
    assert "dhcp-range=10.42.0.11,10.42.3.254,255.255.252.0,3600s" in conf
    assert "dhcp-option=option:router,10.42.0.1" in conf


def test_ipv4_only_hotspot_has_no_router_advertisements() -> None:
    settings = PortalSettings()

    conf = dnsmasq_conf(settings, plan_client_network(settings))

    assert "enable-ra" not in conf and "option6" not in conf


def test_walled_garden_domains_fill_the_portal_nft_sets() -> None:
    settings = PortalSettings(walled_garden=("caf.fr", "Ameli.fr"), nft_table="portal")

    conf = dnsmasq_conf(settings, plan_client_network(settings))

    assert "nftset=/caf.fr/ameli.fr/4#inet#portal#garden4,6#inet#portal#garden6" in conf


def test_hostapd_is_an_open_network_on_the_right_band() -> None:
    conf_24 = hostapd_conf(PortalSettings(ssid="Wifi Public", channel=6))
    conf_5 = hostapd_conf(PortalSettings(channel=36))

    assert "ssid=Wifi Public\n" in conf_24 and "hw_mode=g\n" in conf_24
    assert "channel=6\n" in conf_24 and "country_code=FR\n" in conf_24
    assert "wpa=0\n" in conf_24 and "wpa_passphrase" not in conf_24
    assert "hw_mode=a\n" in conf_5 and "channel=36\n" in conf_5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"walled_garden": ("caf.fr\nserver=203.0.113.66",)}, "walled_garden"),
        ({"hostname": "portail wifi"}, "hostname"),
        ({"ssid": "wifi\nwpa=2"}, "ssid"),
        ({"country_code": "france"}, "country_code"),
        ({"wifi_interface": "a-very-long-interface"}, "wifi_interface"),
    ],
)
def test_values_that_would_inject_configuration_are_refused(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        render_files(PortalSettings(**overrides))  # type: ignore[arg-type]


def test_bad_settings_exit_2_with_a_clear_message_and_write_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, LAB_TOML.replace('"10.42.0.0/22"', '"10.42.0.0/24"'))

    code, output, out = run_render(tmp_path, config)

    assert code == 2
    assert "client_subnet 10.42.0.0/24 leaves 244 addresses" in output
    assert not out.exists()


def test_unknown_setting_exits_2_naming_it(tmp_path: Path) -> None:
    code, output, out = run_render(tmp_path, write_config(tmp_path, LAB_TOML + "sssid = 1\n"))

    assert code == 2
    assert "sssid" in output
    assert not out.exists()
