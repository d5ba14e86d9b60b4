"""The nftables table the portal owns, and :class:`NftClientAccess` that grants clients in it.

A security reviewer reads this file: every rule the gateway applies to residents' traffic is in
:func:`portal_ruleset`, every command the portal runs at a tap is in :class:`NftClientAccess`.

Design (issue 5):

* Authorised clients are elements of ``allowed4`` / ``allowed6`` with a per-element timeout equal
  to the session length: the kernel forgets them when the session ends, no daemon needed.
* The ruleset is applied as one atomic ``nft -f`` script that creates the table and sets only if
  they are missing and replaces every chain's rules, so re-applying it (a portal restart, an
  upgrade) keeps the elements of ``allowed4`` / ``allowed6`` and the walled garden: nobody is
  disconnected.
* Unauthorised clients: DNS and DHCP (and ICMPv6 neighbour discovery) work, HTTP goes to the
  portal, the walled garden answers, everything else is refused at once (TCP reset, ICMP
  administratively prohibited) so phones notice the portal instead of waiting for a timeout.

Granting one client must take a few milliseconds with 10,000 online, so :class:`NftClientAccess`
talks to the kernel through libnftables (the library behind the ``nft`` command) in-process
instead of starting ``nft`` for each tap.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import ipaddress
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from borne.settings import ImproperlyConfigured
from captive_portal.access import ClientAddress
from captive_portal.settings import PortalSettings

ALLOWED4 = "allowed4"
ALLOWED6 = "allowed6"
GARDEN4 = "garden4"
GARDEN6 = "garden6"
GARDEN_PORTS = "meta l4proto { tcp, udp } th dport { 80, 443 }"
# How long an idle client's bandwidth meter is kept (the meter is recreated at its next packet).
METER_IDLE = "1m"
# ICMPv6 that IPv6 cannot work without (RFC 4890 §4.4.1): neighbour and router discovery.
ND_TYPES = "nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert"

# ---------------------------------------------------------------------------------------------
# The ruleset


class NftError(RuntimeError):
    """nftables refused a command; the message is nft's own."""


def portal_ruleset(
    settings: PortalSettings, garden_addresses: Iterable[str] = (), *, gateway6: str = ""
) -> str:
    """The ``nft -f`` script of the portal's table, safe to apply again and again.

    ``garden_addresses`` are fixed addresses of the walled garden (a lab's public-service host,
    a site without a stable name); the rest of the garden is filled by dnsmasq's ``nftset=``
    when a resident's device resolves a walled-garden domain. ``gateway6`` is the portal's IPv6
    address on the client network, where HTTP from IPv6 clients is sent (empty: IPv4 only).
    """
    table = _checked_name("nft_table", settings.nft_table)
    wifi = _checked_name("wifi_interface", settings.wifi_interface)
    uplink = _checked_name("uplink_interface", settings.uplink_interface)
    gateway = ipaddress.IPv4Address(settings.gateway_address)
    garden4, garden6 = _split_families(garden_addresses)
    t = f"inet {table}"
    lines = [
        f"# The captive portal's table ({table}), written by borne portal. Applying it again",
        "# keeps authorised clients: the table and sets are created only when missing and only",
        "# the chains are flushed and refilled, all in one transaction.",
        f"add table {t}",
        "",
        "# Authorised clients: the per-element timeout is the session's end, set by the portal.",
        f"add set {t} {ALLOWED4} {{ type ipv4_addr; flags timeout; }}",
        f"add set {t} {ALLOWED6} {{ type ipv6_addr; flags timeout; }}",
        "# Walled garden: filled by dnsmasq (nftset=) when a walled-garden domain is resolved.",
        f"add set {t} {GARDEN4} {{ type ipv4_addr; }}",
        f"add set {t} {GARDEN6} {{ type ipv6_addr; }}",
    ]
    if garden4:
        lines.append(f"add element {t} {GARDEN4} {{ {', '.join(garden4)} }}")
    if garden6:
        lines.append(f"add element {t} {GARDEN6} {{ {', '.join(garden6)} }}")
    if settings.bandwidth_kbit:
        lines += [
            "# Per-client bandwidth meters, one token bucket per address and direction.",
            *(
                f"add set {t} {name} {{ type {kind}; flags dynamic,timeout; "
                f"timeout {METER_IDLE}; }}"
                for name, kind in _METERS
            ),
            # Flushed so a changed rate applies to everyone at once (meters are recreated).
            *(f"flush set {t} {name}" for name, _ in _METERS),
        ]
    chains = {
        "prerouting": "type nat hook prerouting priority dstnat; policy accept;",
        "input": "type filter hook input priority filter; policy accept;",
        "forward": "type filter hook forward priority filter; policy accept;",
        "postrouting": "type nat hook postrouting priority srcnat; policy accept;",
        "from_clients": "",
        "to_clients": "",
    }
    for name, spec in chains.items():
        lines.append("")
        lines.append(f"add chain {t} {name} {{ {spec} }}" if spec else f"add chain {t} {name}")
        lines.append(f"flush chain {t} {name}")
    rules = {
        "prerouting": [
            "# Authorised clients and the walled garden go out untouched.",
            f'iifname "{wifi}" ip saddr @{ALLOWED4} return',
            f'iifname "{wifi}" ip6 saddr @{ALLOWED6} return',
            f'iifname "{wifi}" ip daddr @{GARDEN4} {GARDEN_PORTS} return',
            f'iifname "{wifi}" ip6 daddr @{GARDEN6} {GARDEN_PORTS} return',
            "# Before connecting, any DNS server is the gateway's: the walled garden set is",
            "# filled from its answers (which still resolve any name: see the README's limits).",
            f'iifname "{wifi}" meta l4proto {{ tcp, udp }} th dport 53 redirect to :53',
            "# Before connecting, every web site is the portal's splash page.",
            f'iifname "{wifi}" tcp dport 80 dnat ip to {gateway}:{settings.http_port}',
            *(
                [f'iifname "{wifi}" tcp dport 80 dnat ip6 to [{gateway6}]:{settings.http_port}']
                if gateway6
                else []
            ),
        ],
        "input": [
            "# What clients may ask of the gateway itself: DHCP, DNS, the portal, ping, IPv6.",
            f'iifname != "{wifi}" accept',
            "ct state established,related accept",
            "udp dport { 67, 547 } accept",
            "meta l4proto { tcp, udp } th dport 53 accept",
            f"tcp dport {{ {settings.http_port}, {settings.https_port} }} accept",
            f"icmpv6 type {{ {ND_TYPES}, echo-request }} accept",
            "icmp type echo-request accept",
            "meta l4proto tcp reject with tcp reset",
            "reject with icmpx admin-prohibited",
        ],
        "forward": [
            *_meter_rules(settings, wifi),
            f'iifname "{wifi}" jump from_clients',
            f'oifname "{wifi}" jump to_clients',
        ],
        "from_clients": [
            "# The walled garden is for browsing (HTTP, HTTPS, HTTP/3): any other port on one of",
            "# its hosts (a VPN, a tunnel) would open the whole internet without a tap.",
            f'ip daddr @{GARDEN4} {GARDEN_PORTS} oifname "{uplink}" accept',
            f'ip6 daddr @{GARDEN6} {GARDEN_PORTS} oifname "{uplink}" accept',
            *_blocked_network_rules(settings),
            "# Every packet is checked, not only new connections: when a session ends, its",
            "# open connections stop too.",
            f'ip saddr @{ALLOWED4} oifname "{uplink}" accept',
            f'ip6 saddr @{ALLOWED6} oifname "{uplink}" accept',
            "# Refused at once so the device notices the portal (no silent drop).",
            "meta l4proto tcp reject with tcp reset",
            "reject with icmpx admin-prohibited",
        ],
        "to_clients": [
            "# Replies only: residents' devices are not reachable from the internet.",
            f'iifname "{uplink}" ct state established,related accept',
            "drop",
        ],
        "postrouting": [
            "# IPv4 clients share the uplink's address; the IPv6 prefix is routed to the gateway.",
            f'meta nfproto ipv4 oifname "{uplink}" masquerade',
        ],
    }
    for name, chain_rules in rules.items():
        lines.append("")
        for rule in chain_rules:
            lines.append(rule if rule.startswith("#") else f"add rule {t} {name} {rule}")
    return "\n".join(lines) + "\n"


def _blocked_network_rules(settings: PortalSettings) -> list[str]:
    """The city's own networks are not the internet: no resident's device reaches them
    (the controller, kiosks, staff PCs), connected or not."""
    v4 = [str(n) for n in map(ipaddress.ip_network, settings.blocked_networks) if n.version == 4]
    v6 = [str(n) for n in map(ipaddress.ip_network, settings.blocked_networks) if n.version == 6]
    rules = ["# Internal networks (setting blocked_networks): refused, connected or not."]
    for family, networks in (("ip", v4), ("ip6", v6)):
        if networks:
            wanted = f"{family} daddr {{ {', '.join(networks)} }}"
            rules += [f"{wanted} meta l4proto tcp reject with tcp reset", f"{wanted} reject"]
    return rules if len(rules) > 1 else []


_METERS = (
    ("meter_up4", "ipv4_addr"),
    ("meter_up6", "ipv6_addr"),
    ("meter_down4", "ipv4_addr"),
    ("meter_down6", "ipv6_addr"),
)


def _meter_rules(settings: PortalSettings, wifi: str) -> list[str]:
    """Drop what exceeds ``bandwidth_kbit`` per client and direction (a one-second burst)."""
    if not settings.bandwidth_kbit:
        return []
    rate = settings.bandwidth_kbit * 1000 // 8  # bytes per second
    # No `burst`: the kernel's bucket already holds one second of `rate`, and a burst would be
    # added to it (a lab transfer went at 1.7 times the rate with `burst rate`).
    limit = f"limit rate over {rate} bytes/second"
    return [
        f'iifname "{wifi}" update @meter_up4 {{ ip saddr {limit} }} drop',
        f'iifname "{wifi}" update @meter_up6 {{ ip6 saddr {limit} }} drop',
        f'oifname "{wifi}" update @meter_down4 {{ ip daddr {limit} }} drop',
        f'oifname "{wifi}" update @meter_down6 {{ ip6 daddr {limit} }} drop',
    ]


def _checked_name(setting: str, value: str) -> str:
    """Table and interface names go into nft scripts: letters, digits, ``_ - .`` only."""
    ok = value and len(value) <= 32 and value[0].isalpha()
    if not ok or not all(c.isalnum() or c in "_-." for c in value) or not value.isascii():
        raise ImproperlyConfigured(
            f"setting {setting} must be a name of letters, digits, '_', '-' or '.', got {value!r}"
        )
    return value


def _split_families(addresses: Iterable[str]) -> tuple[list[str], list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"walled-garden address must be an IP address, got {text!r}"
            ) from exc
        (v4 if address.version == 4 else v6).append(str(address))
    return v4, v6


# ---------------------------------------------------------------------------------------------
# Talking to the kernel through libnftables

_OUTPUT_JSON = 1 << 4  # NFT_CTX_OUTPUT_JSON in <nftables/libnftables.h>
_OUTPUT_NUMERIC_TIME = 1 << 10  # NFT_CTX_OUTPUT_NUMERIC_TIME: "expires 196s", not "3m16s"
_CLONE_NEWNET = 0x40000000


class Nftables:
    """One libnftables context: the ``nft`` command without a process per command.

    The netlink socket belongs to the network namespace it was opened in, so with ``netns`` the
    context is created while this thread is inside ``/run/netns/<netns>`` (tests and the lab;
    the portal itself simply runs inside the gateway's namespace). Not thread-safe on its own:
    callers hold a lock.
    """

    def __init__(self, netns: str | None = None) -> None:
        lib = _libnftables()
        self._lib = lib
        with in_netns(netns):
            ctx = lib.nft_ctx_new(0)
            if not ctx:
                raise NftError("libnftables could not create a context")
            self._ctx = ctx
            lib.nft_ctx_buffer_output(ctx)
            lib.nft_ctx_buffer_error(ctx)
            lib.nft_ctx_output_set_flags(ctx, _OUTPUT_NUMERIC_TIME)
            # Open the netlink socket now, inside the namespace (libnftables opens it lazily).
            self.run("list tables")

    def run(self, commands: str, *, json_output: bool = False) -> str:
        """Run an nft script as one transaction; returns nft's output, raises :class:`NftError`."""
        flags = self._lib.nft_ctx_output_get_flags(self._ctx)
        wanted = flags | _OUTPUT_JSON if json_output else flags & ~_OUTPUT_JSON
        self._lib.nft_ctx_output_set_flags(self._ctx, wanted)
        rc = self._lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
        output = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
        error = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            raise NftError(error.strip() or f"nft failed on: {commands.strip()}")
        return output

    def close(self) -> None:
        if self._ctx:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = None


_lib_lock = threading.Lock()
_lib_handle: ctypes.CDLL | None = None


def _libnftables() -> ctypes.CDLL:
    """libnftables.so.1 (Debian package libnftables1, installed with nftables)."""
    global _lib_handle
    with _lib_lock:
        if _lib_handle is None:
            name = ctypes.util.find_library("nftables") or "libnftables.so.1"
            try:
                lib = ctypes.CDLL(name)
            except OSError as exc:
                raise NftError(
                    f"libnftables is not installed ({exc}): apt install nftables"
                ) from exc
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
            lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
            lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
            _lib_handle = lib
        return _lib_handle


@contextlib.contextmanager
def in_netns(netns: str | None) -> Iterator[None]:
    """Run the block with this thread in network namespace ``netns`` (None: stay where we are).

    Sockets opened inside keep working in that namespace after the thread comes back.
    """
    if netns is None:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            target = os.open(Path("/run/netns") / netns, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise NftError(f"network namespace {netns!r} does not exist") from exc
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {netns}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if libc.setns(here, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to our namespace")
    finally:
        os.close(here)


def apply_ruleset(script: str, *, netns: str | None = None) -> None:
    """Apply the portal's table (one transaction: all of it or nothing)."""
    nft = Nftables(netns)
    try:
        nft.run(script)
    finally:
        nft.close()


# ---------------------------------------------------------------------------------------------
# Granting clients


_EXPIRES = re.compile(r"\bexpires (\d+)s\b")
SYNC_EVERY_S = 60.0


class NftClientAccess:
    """:class:`~captive_portal.access.ClientAccess` over the ``allowed4`` / ``allowed6`` sets.

    The table must exist (:func:`apply_ruleset`, run by the service before the portal starts).
    ``netns`` is for tests and the lab, which drive a gateway namespace from outside it.
    """

    def __init__(
        self,
        settings: PortalSettings,
        *,
        netns: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = f"inet {_checked_name('nft_table', settings.nft_table)}"
        self._nft = Nftables(netns)
        self._lock = threading.Lock()  # the grant context and the mirror
        self._list_nft = Nftables(netns)  # listings, without holding up grants
        self._listing_lock = threading.Lock()
        # While a listing runs: what grants and revocations changed (None: revoked).
        self._changed_during_listing: dict[ClientAddress, float | None] | None = None
        # The kernel's sets are the truth; this mirror of their expiry times spares listing
        # 10,000 elements (28 ms for one lookup, 110 ms for a count with nft 1.0.6) on every
        # probe of a captive device and every tap. The portal is the sets' only writer; the
        # mirror is read back from the kernel at start and every SYNC_EVERY_S, in case staff
        # changed a set by hand.
        self._clock = clock
        self._until: dict[ClientAddress, float] = {}
        self._synced_at: float | None = None

    def grant(self, address: ClientAddress, seconds: int) -> None:
        """Let ``address`` out for ``seconds``; a renewal replaces the remaining time.

        nft 1.0.6 cannot update an element's timeout in place, so the element is added (a
        no-op if present), deleted and added again with the new timeout, in one transaction:
        there is no instant where a connected client is refused.
        """
        if seconds < 1:
            raise ValueError(f"a session lasts at least one second, got {seconds}")
        element = self._element(address)
        self._run(
            f"add element {element} }}\n"
            f"delete element {element} }}\n"
            f"add element {element} timeout {int(seconds)}s }}\n"
        )
        self._note(_client_address(address), self._clock() + int(seconds))

    def revoke(self, address: ClientAddress) -> None:
        element = self._element(address)
        # Added first so that revoking a client who is not (or no longer) there is not an error.
        self._run(f"add element {element} }}\ndelete element {element} }}\n")
        self._note(_client_address(address), None)

    def remaining(self, address: ClientAddress) -> int | None:
        """Seconds left: a client the mirror does not know is answered at once (captive
        devices probe often); one it knows is confirmed with the kernel, so a client revoked
        by hand is captive again at once."""
        self._sync_if_due()
        address = _client_address(address)
        with self._lock:
            until = self._until.get(address)
        if until is None or until <= self._clock():
            return None
        left = self.remaining_in_kernel(address)
        with self._lock:
            if left is None:
                self._until.pop(address, None)
            else:
                self._until[address] = self._clock() + left
        return left

    def count(self) -> int:
        self._sync_if_due()
        now = self._clock()
        with self._lock:
            return sum(1 for until in self._until.values() if until > now)

    def remaining_all(self) -> dict[ClientAddress, int]:
        """Read from the kernel (one listing of both sets), so the statistics see revocations
        and expiries as they are."""
        self.sync()
        now = self._clock()
        with self._lock:
            return {a: int(until - now) for a, until in self._until.items() if until > now}

    def remaining_in_kernel(self, address: ClientAddress) -> int | None:
        """What the kernel says now (tests, and checks of the mirror)."""
        # nft 1.0.6 prints `get element` as text even in JSON mode: "... timeout 200s expires 196s".
        try:
            output = self._run(f"get element {self._element(address)} }}")
        except NftError as exc:
            if "No such file or directory" in str(exc):
                return None
            raise
        found = _EXPIRES.search(output)
        return int(found.group(1)) if found else None

    def sync(self) -> None:
        """Read the authorised clients and their time left back from the kernel.

        The listing (a quarter of a second with 20,000 elements) goes through a context of its
        own, so taps need not wait for it; what they change meanwhile is noted and applied on
        top of the listing, so a grant made during it cannot vanish from the mirror.
        """
        with self._listing_lock:  # one listing at a time
            with self._lock:
                self._changed_during_listing = {}
            try:
                now = self._clock()
                until: dict[ClientAddress, float] = {}
                for name in (ALLOWED4, ALLOWED6):
                    output = self._list_nft.run(f"list set {self._table} {name}", json_output=True)
                    for item in _elements(json.loads(output)):
                        element = item.get("elem") if isinstance(item, dict) else None
                        if not isinstance(element, dict) or "expires" not in element:
                            continue  # an element without a timeout is not the portal's
                        until[_client_address(element["val"])] = now + int(element["expires"])
            except NftError as exc:
                with self._lock:
                    self._changed_during_listing = None
                raise NftError(str(exc).splitlines()[0] if str(exc) else "listing failed") from None
            with self._lock:
                for address, changed in self._changed_during_listing.items():
                    if changed is None:
                        until.pop(address, None)
                    else:
                        until[address] = changed
                self._changed_during_listing = None
                self._until = until
                self._synced_at = now

    def _note(self, address: ClientAddress, until: float | None) -> None:
        """Record a grant (its end) or a revocation (None) in the mirror."""
        with self._lock:
            if until is None:
                self._until.pop(address, None)
            else:
                self._until[address] = until
            if self._changed_during_listing is not None:
                self._changed_during_listing[address] = until

    def _sync_if_due(self) -> None:
        synced_at = self._synced_at
        if synced_at is None or self._clock() - synced_at >= SYNC_EVERY_S:
            self.sync()

    def close(self) -> None:
        with self._listing_lock, self._lock:
            self._nft.close()
            self._list_nft.close()

    def _element(self, address: ClientAddress) -> str:
        """``<table> <set> { <address>`` (the caller closes the brace after the options)."""
        address = _client_address(address)
        name = ALLOWED4 if address.version == 4 else ALLOWED6
        return f"{self._table} {name} {{ {address}"

    def _run(self, commands: str, *, json_output: bool = False) -> str:
        with self._lock:
            try:
                return self._nft.run(commands, json_output=json_output)
            except NftError as exc:
                # nft repeats the failed command, with the client's address, after its first
                # line: that must reach no log (the caller logs the error).
                first = str(exc).splitlines()[0] if str(exc) else ""
                if not first.startswith("Error:"):
                    first = "nft refused a command on the authorised clients"
                raise NftError(first) from None


def _client_address(address: object) -> ClientAddress:
    """A validated address; IPv4-mapped IPv6 (``::ffff:10.0.0.5``) is the IPv4 client it is."""
    checked: ClientAddress = (
        address
        if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
        else ipaddress.ip_address(str(address))
    )
    if isinstance(checked, ipaddress.IPv6Address) and checked.ipv4_mapped is not None:
        return checked.ipv4_mapped
    return checked


def _elements(listing: dict[str, Any]) -> list[Any]:
    """The ``elem`` list of the one set in ``nft -j list set`` / ``get element`` output."""
    for item in listing.get("nftables", []):
        if "set" in item:
            return list(item["set"].get("elem", []))
    return []
