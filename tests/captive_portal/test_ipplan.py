"""Planning the hotspot's client network from its settings."""

from __future__ import annotations

import netaddr
import pytest

from borne.settings import ImproperlyConfigured
from captive_portal.ipplan import RESERVED_HOSTS, plan_client_network
from captive_portal.settings import PortalSettings


def test_default_subnet_keeps_the_gateway_and_reserved_hosts_out_of_dhcp() -> None:
    plan = plan_client_network(PortalSettings(client_subnet="10.42.0.0/22"))

    assert plan.gateway == netaddr.IPAddress("10.42.0.1")
    assert plan.dhcp_first == netaddr.IPAddress(f"10.42.0.{RESERVED_HOSTS + 1}")
    assert plan.dhcp_last == netaddr.IPAddress("10.42.3.254")
    assert plan.netmask == netaddr.IPAddress("255.255.252.0")
    assert plan.broadcast == netaddr.IPAddress("10.42.3.255")
    assert plan.gateway in plan.reserved
    assert plan.dhcp_size == 1022 - RESERVED_HOSTS
    assert plan.lease_s == 3600


def test_gateway_elsewhere_in_the_subnet_is_never_leased() -> None:
    settings = PortalSettings(
        client_subnet="192.168.10.0/24", listen_address="192.168.10.200", max_clients=150
    )

    plan = plan_client_network(settings)

    assert plan.gateway == netaddr.IPAddress("192.168.10.200")
    assert plan.gateway not in netaddr.IPRange(plan.dhcp_first, plan.dhcp_last)
    # The longer run of free addresses: after the reserved hosts, up to the gateway.
    assert (str(plan.dhcp_first), str(plan.dhcp_last)) == ("192.168.10.11", "192.168.10.199")


def test_small_subnet_reserves_only_the_gateway() -> None:
    plan = plan_client_network(PortalSettings(client_subnet="192.168.5.0/29", max_clients=5))

    assert (str(plan.dhcp_first), str(plan.dhcp_last)) == ("192.168.5.2", "192.168.5.6")


def test_subnet_too_small_for_max_clients_is_refused_naming_both_settings() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"client_subnet .* max_clients \(250\)"):
        plan_client_network(PortalSettings(client_subnet="10.42.0.0/24"))


def test_gateway_outside_the_subnet_is_refused() -> None:
    settings = PortalSettings(client_subnet="10.42.0.0/22", listen_address="10.99.0.1")

    with pytest.raises(ImproperlyConfigured, match=r"listen_address 10\.99\.0\.1"):
        plan_client_network(settings)


def test_gateway_on_the_broadcast_address_is_refused() -> None:
    settings = PortalSettings(client_subnet="10.42.0.0/22", listen_address="10.42.3.255")

    with pytest.raises(ImproperlyConfigured, match="not a host address"):
        plan_client_network(settings)


def test_ipv6_prefix_gives_the_gateway_its_first_address() -> None:
    plan = plan_client_network(PortalSettings(client_subnet6="2001:db8:42::/64"))

    assert plan.subnet6 == netaddr.IPNetwork("2001:db8:42::/64")
    assert plan.gateway6 == netaddr.IPAddress("2001:db8:42::1")


def test_no_ipv6_without_a_prefix() -> None:
    plan = plan_client_network(PortalSettings())

    assert plan.subnet6 is None and plan.gateway6 is None


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("2001:db8:42::/56", "must be a /64"),
        ("2001:db8:42::1/64", "client_subnet6"),
        ("fe80::/64", "routable"),
    ],
)
def test_unusable_ipv6_prefixes_are_refused(prefix: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        plan_client_network(PortalSettings(client_subnet6=prefix))


def test_too_short_a_lease_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="at least 120 s"):
        plan_client_network(PortalSettings(), lease_s=30)
