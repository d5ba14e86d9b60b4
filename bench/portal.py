"""The portal's enforcement with 10,000 clients online: an nftables set (ours) beside one nft rule
per client (the older way), on the lab's namespaces (client -> gateway -> internet).

Two figures, for each design, printed side by side with their ratio:

1. Tap -> online: the time from the grant call to the client's first packet reaching the
   internet namespace (p50/p95 over ``--grants`` new clients, each with its own address), and
   the time of the grant call itself. Both designs grant through libnftables in-process, so the
   only difference is the data structure: a set element with a timeout, or a rule appended to a
   chain of 10,000 ``ip saddr X accept`` rules.
2. Forwarding of small packets: 64-byte Ethernet frames (18 bytes of UDP payload) from the
   last-granted client to the internet namespace, at a fixed offered rate and at the most one
   Python sender manages; packets/s that arrived (counted by an nft counter in the internet
   namespace) and the loss. The last-granted client is the honest case for the rule-per-client
   design: its rule is the last one, so each of its packets walks the whole chain.

Targets (DESIGN.md): granting one client < 5 ms with 10,000 clients online.

Run as root (it creates and removes network namespaces ``bbench-*``); no internet needed:

    .venv/bin/python bench/portal.py [--clients 10000] [--grants 50] [--rate 10000] [--seconds 3]

The sender is Python (one core), so the "max rate" line measures the gateway only while the
gateway is slower than the sender; iperf3 and pktgen are not installed here.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import secrets
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captive_portal.lab import (
    CLIENT_IF,
    CLIENT_SUBNET6,
    PUBLIC_SITE4,
    UPLINK,
    WIFI,
    Lab,
    build_network,
    lab_down,
)
from captive_portal.nft import Nftables, NftClientAccess, apply_ruleset, in_netns, portal_ruleset
from captive_portal.settings import PortalSettings

PROBE_PORT = 9999
FLOOD_PORT = 9998
UDP_PAYLOAD = b"\0" * 18  # 14 Ethernet + 20 IP + 8 UDP + 18 + 4 FCS = 64 bytes on the wire
SESSION_S = 4 * 3600
ONLINE_BASE = ipaddress.IPv4Address("10.43.0.0")  # the 10,000 clients already online
NEW_BASE = ipaddress.IPv4Address("10.42.1.0")  # clients that tap during the benchmark
RULES_TABLE = "borne_rules"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--grants", type=int, default=50)
    parser.add_argument("--rate", type=int, default=10_000, help="fixed offered rate, packets/s")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(prefix=f"bbench-{secrets.token_hex(2)}", run_dir=Path(tmp) / "lab")
        lab.run_dir.mkdir()
        settings = PortalSettings(
            wifi_interface=WIFI,
            uplink_interface=UPLINK,
            client_subnet="10.42.0.0/16",
            client_subnet6=CLIENT_SUBNET6,
            max_clients=args.clients + args.grants,
            state_dir=lab.run_dir,
        )
        try:
            build_network(lab, settings)
            results = {
                "nft set (borne)": run_design(lab, settings, SetDesign(lab, settings), args),
                "rule per client": run_design(lab, settings, RulesDesign(lab, settings), args),
            }
        finally:
            lab_down(lab)
    print_results(results, args)


class SetDesign:
    """Ours: the portal's table; a client is an element of ``allowed4`` with a timeout."""

    def __init__(self, lab: Lab, settings: PortalSettings) -> None:
        self.lab, self.settings = lab, settings

    def install(self, online: list[str]) -> None:
        apply_ruleset(portal_ruleset(self.settings), netns=self.lab.gw_ns)
        elements = ", ".join(f"{a} timeout {SESSION_S}s" for a in online)
        nft = Nftables(self.lab.gw_ns)
        nft.run(f"add element inet {self.settings.nft_table} allowed4 {{ {elements} }}")
        nft.close()
        self.access = NftClientAccess(self.settings, netns=self.lab.gw_ns)

    def grant(self, address: str) -> None:
        self.access.grant(ipaddress.IPv4Address(address), SESSION_S)

    def remove(self) -> None:
        self.access.close()
        subprocess.run(
            ["ip", "netns", "exec", self.lab.gw_ns, "nft", "delete", "table", "inet",
             self.settings.nft_table],
            check=True,
        )  # fmt: skip


class RulesDesign:
    """The older way: a chain with one ``ip saddr X accept`` rule per client, then a reject."""

    def __init__(self, lab: Lab, settings: PortalSettings) -> None:
        self.lab, self.settings = lab, settings

    def install(self, online: list[str]) -> None:
        t = f"inet {RULES_TABLE}"
        wifi, uplink = self.settings.wifi_interface, self.settings.uplink_interface
        script = [
            f"add table {t}",
            f"add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}",
            f"add chain {t} postrouting {{ type nat hook postrouting priority srcnat; }}",
            f"add chain {t} clients",
            f'add rule {t} forward iifname "{wifi}" jump clients',
            f'add rule {t} forward iifname "{wifi}" meta l4proto tcp reject with tcp reset',
            f'add rule {t} forward iifname "{wifi}" reject with icmpx admin-prohibited',
            f'add rule {t} postrouting meta nfproto ipv4 oifname "{uplink}" masquerade',
            *(f"add rule {t} clients ip saddr {a} accept" for a in online),
        ]
        self.nft = Nftables(self.lab.gw_ns)
        self.nft.run("\n".join(script) + "\n")

    def grant(self, address: str) -> None:
        self.nft.run(f"add rule inet {RULES_TABLE} clients ip saddr {address} accept\n")

    def remove(self) -> None:
        self.nft.run(f"delete table inet {RULES_TABLE}\n")
        self.nft.close()


def run_design(
    lab: Lab, settings: PortalSettings, design: SetDesign | RulesDesign, args: argparse.Namespace
) -> dict[str, float]:
    online = [str(ONLINE_BASE + i) for i in range(args.clients)]
    new = [str(NEW_BASE + i) for i in range(args.grants)]
    for address in new:
        subprocess.run(
            ["ip", "-n", lab.client_ns, "address", "replace", f"{address}/16", "dev", CLIENT_IF],
            check=True,
        )
    counter = InternetCounter(lab.net_ns)
    design.install(online)
    try:
        grant_s, to_pass_s = measure_grants(lab, design.grant, new)
        fixed = measure_forwarding(lab, new[-1], counter, rate=args.rate, seconds=args.seconds)
        flood = measure_forwarding(lab, new[-1], counter, rate=None, seconds=args.seconds)
    finally:
        design.remove()
        counter.remove()
    return {
        "grant_p50_ms": percentile(grant_s, 50) * 1e3,
        "grant_p95_ms": percentile(grant_s, 95) * 1e3,
        "pass_p50_ms": percentile(to_pass_s, 50) * 1e3,
        "pass_p95_ms": percentile(to_pass_s, 95) * 1e3,
        "fixed_offered_pps": fixed[0],
        "fixed_forwarded_pps": fixed[1],
        "fixed_loss_pct": fixed[2],
        "max_offered_pps": flood[0],
        "max_forwarded_pps": flood[1],
        "max_loss_pct": flood[2],
    }


def measure_grants(
    lab: Lab, grant: Callable[[str], None], addresses: list[str]
) -> tuple[list[float], list[float]]:
    """For each new client: grant, then send probes until one reaches the internet."""
    with in_netns(lab.net_ns):
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind((PUBLIC_SITE4, PROBE_PORT))
    receiver.setblocking(False)
    grant_s: list[float] = []
    to_pass_s: list[float] = []
    for address in addresses:
        with in_netns(lab.client_ns):
            sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind((address, 0))
        tag = address.encode()
        started = time.perf_counter()
        grant(address)
        granted = time.perf_counter()
        while True:
            # Refused (ICMP admin-prohibited) until the grant takes effect.
            with contextlib.suppress(OSError):
                sender.sendto(tag, (PUBLIC_SITE4, PROBE_PORT))
            ready, _, _ = select.select([receiver], [], [], 0.0002)
            if ready and _drain(receiver) == tag:
                passed = time.perf_counter()
                break
            if time.perf_counter() - started > 5:
                raise RuntimeError(f"client {address} never got through")
        sender.close()
        _drain_all(receiver)
        grant_s.append(granted - started)
        to_pass_s.append(passed - started)
    receiver.close()
    return grant_s, to_pass_s


def _drain(sock: socket.socket) -> bytes:
    try:
        return sock.recv(64)
    except BlockingIOError:
        return b""


def _drain_all(sock: socket.socket) -> None:
    while _drain(sock):
        pass


class InternetCounter:
    """Counts flood packets as they enter the internet namespace, then drops them (no reply)."""

    def __init__(self, netns: str) -> None:
        self.nft = Nftables(netns)
        self.nft.run(
            "add table inet bench\n"
            "add counter inet bench arrived\n"
            "add chain inet bench prerouting { type filter hook prerouting priority raw; }\n"
            f"add rule inet bench prerouting udp dport {FLOOD_PORT} counter name arrived drop\n"
        )

    def packets(self) -> int:
        listing = json.loads(self.nft.run("list counter inet bench arrived", json_output=True))
        for item in listing["nftables"]:
            if "counter" in item:
                return int(item["counter"]["packets"])
        raise RuntimeError("no counter in nft's answer")

    def remove(self) -> None:
        self.nft.run("delete table inet bench\n")
        self.nft.close()


def measure_forwarding(
    lab: Lab, source: str, counter: InternetCounter, *, rate: int | None, seconds: float
) -> tuple[float, float, float]:
    """(offered packets/s, forwarded packets/s, loss %) of small UDP packets from ``source``."""
    with in_netns(lab.client_ns):
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind((source, 0))
    target = (PUBLIC_SITE4, FLOOD_PORT)
    before = counter.packets()
    sent = 0
    started = time.perf_counter()
    end = started + seconds
    batch = 64
    while (now := time.perf_counter()) < end:
        if rate is not None and sent >= (now - started) * rate:
            continue  # paced: wait for the next packet's slot
        for _ in range(batch if rate is None else 1):
            try:
                sender.sendto(UDP_PAYLOAD, target)
                sent += 1
            except OSError:
                pass
    elapsed = time.perf_counter() - started
    time.sleep(0.2)  # let the last packets arrive
    arrived = counter.packets() - before
    sender.close()
    loss = 100.0 * (sent - arrived) / sent if sent else 0.0
    return sent / elapsed, arrived / elapsed, loss


def percentile(values: list[float], p: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def print_results(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    ours, old = results["nft set (borne)"], results["rule per client"]
    rows = [
        ("grant call p50", "grant_p50_ms", "ms"),
        ("grant call p95", "grant_p95_ms", "ms"),
        ("tap -> first packet p50", "pass_p50_ms", "ms"),
        ("tap -> first packet p95", "pass_p95_ms", "ms"),
        (f"fixed rate: offered ({args.rate}/s)", "fixed_offered_pps", "pkt/s"),
        ("fixed rate: forwarded", "fixed_forwarded_pps", "pkt/s"),
        ("fixed rate: loss", "fixed_loss_pct", "%"),
        ("max rate: offered", "max_offered_pps", "pkt/s"),
        ("max rate: forwarded", "max_forwarded_pps", "pkt/s"),
        ("max rate: loss", "max_loss_pct", "%"),
    ]
    print(
        f"\nportal enforcement, {args.clients} clients online, {args.grants} grants, "
        f"64-byte UDP frames for {args.seconds:g} s"
    )
    print(f"{'':34} {'nft set (borne)':>16} {'rule per client':>16} {'ratio':>8}")
    for label, key, unit in rows:
        ratio = _ratio(key, ours[key], old[key])
        print(f"{label:34} {ours[key]:>12.2f} {unit:<3} {old[key]:>12.2f} {unit:<3} {ratio:>8}")
    print("ratio: how many times better the set is (time: rule/set; packets/s: set/rule)")
    for name, figures in results.items():
        if figures["fixed_offered_pps"] < 0.95 * args.rate:
            print(
                f"note: {name} could not take {args.rate} packets/s: on veth the gateway forwards "
                "in the sender's own context, so its slowness shows as a lower offered rate "
                "(the sender is held back) rather than as loss"
            )


def _ratio(key: str, ours: float, old: float) -> str:
    if "loss" in key or "offered" in key:
        return ""
    if key.endswith("_ms"):
        return f"{old / ours:.1f}x" if ours else ""
    return f"{ours / old:.1f}x" if old else "inf"


if __name__ == "__main__":
    main()
