"""The client network of a hotspot, planned from its settings with netaddr.

The gateway takes one address, a few more stay out of DHCP for the site's own equipment (access
points, a printer), and DHCP hands out the longest run of what is left. A plan that cannot hold
``max_clients`` devices is refused at once, naming the setting, rather than failing on a busy
Saturday when the pool runs dry.
"""

from __future__ import annotations

import dataclasses

import netaddr

from borne.settings import ImproperlyConfigured
from captive_portal.settings import PortalSettings

# Host addresses at the start of the subnet kept out of DHCP (the gateway is usually the first).
RESERVED_HOSTS = 10
# Subnets smaller than this many hosts keep only the gateway out of DHCP.
RESERVE_FROM_HOSTS = 62
# One hour: a phone that leaves frees its address soon; one that stays renews quietly.
DEFAULT_LEASE_S = 3600
# SLAAC (how phones configure IPv6) works on /64 prefixes only (RFC 4862 §5.5.3, RFC 7421).
SLAAC_PREFIXLEN = 64


@dataclasses.dataclass(frozen=True)
class ClientNetworkPlan:
    subnet: netaddr.IPNetwork
    gateway: netaddr.IPAddress
    dhcp_first: netaddr.IPAddress
    dhcp_last: netaddr.IPAddress
    lease_s: int
    subnet6: netaddr.IPNetwork | None = None
    gateway6: netaddr.IPAddress | None = None

    @property
    def netmask(self) -> netaddr.IPAddress:
        return self.subnet.netmask

    @property
    def broadcast(self) -> netaddr.IPAddress:
        broadcast = self.subnet.broadcast
        assert broadcast is not None  # subnets are /29 at most, so they have one
        return broadcast

    @property
    def dhcp_size(self) -> int:
        """How many devices DHCP can serve at once."""
        return int(self.dhcp_last) - int(self.dhcp_first) + 1

    @property
    def reserved(self) -> netaddr.IPSet:
        """Host addresses of the subnet that DHCP never hands out (the gateway among them)."""
        hosts = netaddr.IPSet(self.subnet) - netaddr.IPSet([self.subnet.network, self.broadcast])
        return hosts - netaddr.IPSet(netaddr.IPRange(self.dhcp_first, self.dhcp_last))


def plan_client_network(
    settings: PortalSettings, *, lease_s: int = DEFAULT_LEASE_S
) -> ClientNetworkPlan:
    """Plan gateway, DHCP pool and IPv6 prefix; raises :class:`ImproperlyConfigured`."""
    if lease_s < 120:
        raise ImproperlyConfigured(f"a DHCP lease must last at least 120 s, got {lease_s}")
    subnet = netaddr.IPNetwork(settings.client_subnet)  # checked by PortalSettings
    gateway = netaddr.IPAddress(settings.gateway_address)
    hosts = netaddr.IPSet(netaddr.IPRange(subnet.first + 1, subnet.last - 1))
    if gateway not in hosts:
        raise ImproperlyConfigured(
            f"setting listen_address {gateway} is not a host address of client_subnet {subnet}"
        )
    reserved = netaddr.IPSet([gateway])
    if len(hosts) >= RESERVE_FROM_HOSTS:
        reserved.add(netaddr.IPRange(subnet.first + 1, subnet.first + RESERVED_HOSTS))
    pool = max((hosts - reserved).iter_ipranges(), key=len)
    if len(pool) < settings.max_clients:
        raise ImproperlyConfigured(
            f"setting client_subnet {subnet} leaves {len(pool)} addresses for DHCP, fewer than "
            f"max_clients ({settings.max_clients}): choose a larger subnet or fewer clients"
        )
    subnet6, gateway6 = _plan_ipv6(settings.client_subnet6)
    return ClientNetworkPlan(
        subnet=subnet,
        gateway=gateway,
        dhcp_first=netaddr.IPAddress(pool.first),
        dhcp_last=netaddr.IPAddress(pool.last),
        lease_s=lease_s,
        subnet6=subnet6,
        gateway6=gateway6,
    )


def _plan_ipv6(prefix: str) -> tuple[netaddr.IPNetwork | None, netaddr.IPAddress | None]:
    """The client /64 and the gateway's address in it (``prefix::1``), or none without IPv6."""
    if not prefix:
        return None, None
    subnet6 = netaddr.IPNetwork(prefix)
    if subnet6.prefixlen != SLAAC_PREFIXLEN:
        raise ImproperlyConfigured(
            f"setting client_subnet6 must be a /64 (phones configure IPv6 with SLAAC, which "
            f"needs one), got {prefix}"
        )
    if subnet6.ip.is_link_local() or subnet6.ip.is_multicast() or subnet6.ip.is_loopback():
        raise ImproperlyConfigured(
            f"setting client_subnet6 must be a routable prefix, got {prefix}"
        )
    return subnet6, netaddr.IPAddress(subnet6.first + 1, 6)
