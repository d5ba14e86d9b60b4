"""The portal's periodic refresh and a tap, with 10,000 dual-stack devices online.

Every ``REFRESH_EVERY_S`` (10 s) the portal reads the kernel's neighbour table and its
authorised sets, lets connected devices' new addresses out, counts the devices online and
writes the statistics. A tap reads one neighbour entry and grants a set element. This measures
both on a real gateway namespace (a veth pair, real nftables sets, a real neighbour table of
permanent entries: each device's IPv4 and IPv6 address under one MAC):

* refresh, steady: nothing new to follow (p50/max over ``--runs``);
* refresh, following: ``--new`` devices have each made a new IPv6 privacy address;
* its parts: reading the neighbour table (``ip neigh show``) and the access list
  (``nft list set``, both families);
* a tap by a new device (p50/p95 over ``--taps``), the cap counted in devices;
* a tap on the full hotspot, refused (the first one counts the devices again).

Run as root (it creates and removes a network namespace ``bbench-*``); no internet needed:

    .venv/bin/python bench/portal_refresh.py [--devices 10000] [--new 500] [--runs 5]

A gateway with this many devices needs the kernel's neighbour-table limits raised
(``net.ipv4.neigh.default.gc_thresh3``, ``net.ipv6.neigh.default.gc_thresh3``, 1024 by default);
permanent entries, as here, are not bound by them.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captive_portal.admission import Admission, ConnectOutcome
from captive_portal.anonymity import KernelNeighbours
from captive_portal.nft import Nftables, NftClientAccess, apply_ruleset, in_netns, portal_ruleset
from captive_portal.settings import PortalSettings

SESSION_S = 4 * 3600
WIFI, PEER = "wifi0", "phones0"
SUBNET4, SUBNET6 = "10.40.0.0/14", "2001:db8:42::/64"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=500, help="devices with a new IPv6 address")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--taps", type=int, default=50)
    args = parser.parse_args()

    netns = f"bbench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run(netns, Path(tmp), args)
    finally:
        subprocess.run(["ip", "netns", "delete", netns], check=False)
    print_figures(figures, args)


def run(netns: str, tmp: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    settings = PortalSettings(
        wifi_interface=WIFI,
        uplink_interface="uplink0",
        client_subnet=SUBNET4,
        client_subnet6=SUBNET6,
        max_clients=args.devices + args.taps,
        connects_per_minute=10 * args.taps,  # the bench taps faster than a resident
        session_s=SESSION_S,
        state_dir=tmp / "state",
        runtime_dir=tmp / "run",
    )
    ip = ["ip", "-n", netns]
    subprocess.run([*ip, "link", "add", WIFI, "type", "veth", "peer", PEER], check=True)
    for link in (WIFI, PEER):
        subprocess.run([*ip, "link", "set", link, "up"], check=True)
    apply_ruleset(portal_ruleset(settings), netns=netns)

    online4 = [ipaddress.IPv4Address("10.40.0.10") + i for i in range(args.devices)]
    online6 = [ipaddress.IPv6Address("2001:db8:42::1:0") + i for i in range(args.devices)]
    add_neighbours(netns, [(a, mac(i)) for i, a in enumerate(online4)])
    add_neighbours(netns, [(a, mac(i)) for i, a in enumerate(online6)])
    nft = Nftables(netns)
    table = f"inet {settings.nft_table}"
    nft.run(f"add element {table} allowed4 {{ {elements(online4)} }}")
    nft.run(f"add element {table} allowed6 {{ {elements(online6)} }}")
    nft.close()

    access = NftClientAccess(settings, netns=netns)
    figures: dict[str, list[float]] = {"neigh": [], "access": [], "steady": [], "follow": []}
    with in_netns(netns):  # `ip neigh show` runs in the gateway, as the portal does
        neighbours = KernelNeighbours()
        admission = Admission(settings, access, neighbours, lambda: datetime.now(UTC))
        admission.refresh()  # the start: the access mirror and the snapshot exist
        for _ in range(args.runs):
            figures["neigh"].append(timed(neighbours.entries))
            figures["access"].append(timed(access.remaining_all))
            figures["steady"].append(timed(admission.refresh))

        new6 = [ipaddress.IPv6Address("2001:db8:42::8:0") + i for i in range(args.new)]
        add_neighbours(netns, [(a, mac(i)) for i, a in enumerate(new6)])
        figures["follow"].append(timed(admission.refresh))
        followed = sum(1 for a in new6 if access.remaining(a) is not None)
        if followed != args.new:
            raise RuntimeError(f"{followed} of {args.new} new addresses followed")

        figures["tap"] = []
        taps = [ipaddress.IPv4Address("10.43.0.10") + i for i in range(args.taps)]
        add_neighbours(netns, [(a, mac(args.devices + i)) for i, a in enumerate(taps)])
        for address in taps:
            started = time.perf_counter()
            result = admission.connect(address)
            figures["tap"].append(time.perf_counter() - started)
            if result.outcome != ConnectOutcome.GRANTED:
                raise RuntimeError(f"tap refused: {result.outcome}")

        # The hotspot is full now: a new device is refused, after a recount at most once a
        # second (the first refused tap pays for it).
        figures["full"] = []
        late = ipaddress.IPv4Address("10.43.1.10")
        add_neighbours(netns, [(late, mac(args.devices + args.taps))])
        time.sleep(1.1)
        for _ in range(args.taps):
            started = time.perf_counter()
            result = admission.connect(late)
            figures["full"].append(time.perf_counter() - started)
            if result.outcome != ConnectOutcome.FULL:
                raise RuntimeError(f"a tap on a full hotspot: {result.outcome}")
    access.close()
    figures["online"] = [float(admission.devices_online())]
    return figures


def mac(n: int) -> str:
    return "02:" + ":".join(f"{b:02x}" for b in n.to_bytes(5, "big"))


def elements(addresses: list[ipaddress.IPv4Address] | list[ipaddress.IPv6Address]) -> str:
    return ", ".join(f"{a} timeout {SESSION_S}s" for a in addresses)


def add_neighbours(netns: str, entries: list[tuple[object, str]]) -> None:
    batch = "".join(f"neigh add {a} lladdr {m} dev {WIFI} nud permanent\n" for a, m in entries)
    subprocess.run(["ip", "-n", netns, "-batch", "-"], input=batch, text=True, check=True)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def print_figures(figures: dict[str, list[float]], args: argparse.Namespace) -> None:
    def ms(values: list[float], p: int) -> float:
        if len(values) == 1:
            return values[0] * 1e3
        return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1e3

    print(
        f"\nportal refresh and tap, {args.devices} dual-stack devices online "
        f"({2 * args.devices} neighbour entries and set elements)"
    )
    rows = [
        ("read the neighbour table", "neigh"),
        ("read the access list", "access"),
        ("refresh, nothing to follow", "steady"),
        (f"refresh, {args.new} new addresses to follow", "follow"),
        ("tap by a new device", "tap"),
        ("tap on a full hotspot (refused)", "full"),
    ]
    print(f"{'':42} {'p50':>10} {'p95/max':>10}")  # p95 for 20 values or more
    for label, key in rows:
        values = figures[key]
        worst = ms(values, 95) if len(values) >= 20 else max(values) * 1e3
        print(f"{label:42} {ms(values, 50):>7.1f} ms {worst:>7.1f} ms")
    print(f"devices online after the taps: {int(figures['online'][0])} (one per MAC)")
    print(f"the refresh runs every 10 s: {ms(figures['steady'], 50) / 100:.2f} % of one core")


if __name__ == "__main__":
    main()
