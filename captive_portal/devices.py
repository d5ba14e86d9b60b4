"""Which authorised addresses are one device: what ``max_clients`` and "clients now" count.

A device is known by a key: a keyed hash of its MAC address (the key is random, made at the
portal's start and never written anywhere), or, when the kernel does not know the MAC, its
address alone. The addresses let out at its tap and those it starts using later (a new IPv6
privacy address) are the device's for the whole session, up to ``max_addresses``: a new one in
use replaces the one unused the longest, and it has one IPv4 address (see :meth:`make_room`).
Addresses the portal did not let out itself (authorised before a restart, or by hand) are
adopted at the next refresh, by MAC; those whose MAC the kernel no longer knows are kept but
not counted.

Memory only; the MAC itself is never kept. Not thread-safe:
:class:`~captive_portal.admission.Admission` holds a lock around every call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping

from captive_portal.access import ClientAddress

_BY_ADDRESS = "ip:"
# Authorised addresses found at a restart without a MAC: most are what a device that left
# leaves behind (the kernel drops idle entries), so they are not counted as devices.
_UNKNOWN = "unknown:"


class DeviceBook:
    def __init__(self, max_addresses: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_addresses = max_addresses
        self._monotonic = monotonic
        self._secret = secrets.token_bytes(32)
        self._device: dict[ClientAddress, str] = {}
        self._members: dict[str, set[ClientAddress]] = {}
        self._joined_at: dict[ClientAddress, float] = {}
        self._seen_at: dict[ClientAddress, float] = {}
        self._reserved: Counter[str] = Counter()

    # -- keys ------------------------------------------------------------------------------------

    def key(self, mac: str | None, address: ClientAddress) -> str:
        """The device's key: its MAC, hashed with this process's secret; else its address."""
        if mac is None:
            return f"{_BY_ADDRESS}{address}"
        return hmac.new(self._secret, mac.lower().encode(), hashlib.sha256).hexdigest()[:32]

    # -- reading ---------------------------------------------------------------------------------

    def now(self) -> float:
        """The book's time, for :meth:`keep_only`'s ``read_at``."""
        return self._monotonic()

    def count(self) -> int:
        """Devices online, and devices whose tap is in progress."""
        known = {k for k in self._members if not k.startswith(_UNKNOWN)}
        return len(known | self._reserved.keys())

    def knows(self, key: str) -> bool:
        return key in self._members

    def device_of(self, address: ClientAddress) -> str | None:
        return self._device.get(address)

    def addresses(self, key: str) -> set[ClientAddress]:
        return set(self._members.get(key, ()))

    def joined_since(self, address: ClientAddress, moment: float) -> bool:
        joined = self._joined_at.get(address)
        return joined is not None and joined >= moment

    # -- taps ------------------------------------------------------------------------------------

    def reserve(self, key: str) -> None:
        """Hold a place for a new device while its tap is checked (a code, say)."""
        self._reserved[key] += 1

    def release(self, key: str) -> None:
        self._reserved[key] -= 1
        if self._reserved[key] <= 0:
            del self._reserved[key]

    def ipv4_of(self, key: str) -> ClientAddress | None:
        return next((a for a in self._members.get(key, ()) if a.version == 4), None)

    def make_room(
        self, key: str, address: ClientAddress, in_use: Collection[ClientAddress]
    ) -> list[ClientAddress] | None:
        """What must go for ``address`` to join ``key``; None when it cannot.

        A device has one IPv4 address (one DHCP lease), and an IPv4 address never goes to
        make room: a second one under the same MAC is someone else behind a range extender's
        MAC-NAT, or a new lease, and either taps for itself. Beyond ``max_addresses``, the IPv6
        address unused the longest goes.
        """
        if address.version == 4 and self.ipv4_of(key) not in (None, address):
            return None
        members = self._members.get(key, set())
        if len(members) < self.max_addresses:
            return []
        idle = [a for a in members if a.version == 6 and a not in in_use]
        if not idle:
            return None
        return [min(idle, key=lambda a: self._seen_at[a])]

    # -- changes ---------------------------------------------------------------------------------

    def join(self, address: ClientAddress, key: str) -> None:
        """``address`` is ``key``'s from now on (leaving the device it was, if any)."""
        self.leave(address)
        self._device[address] = key
        self._members.setdefault(key, set()).add(address)
        self._joined_at[address] = self._seen_at[address] = self._monotonic()

    def leave(self, address: ClientAddress) -> None:
        key = self._device.pop(address, None)
        if key is None:
            return
        del self._joined_at[address], self._seen_at[address]
        self._members[key].discard(address)
        if not self._members[key]:
            del self._members[key]

    def seen(self, addresses: Iterable[ClientAddress]) -> None:
        """These addresses are in use now (the neighbour table says so)."""
        now = self._monotonic()
        for address in addresses:
            if address in self._device:
                self._seen_at[address] = now

    def keep_only(self, authorised: Collection[ClientAddress], read_at: float) -> None:
        """Forget the addresses no longer authorised, given a list read at ``read_at``; one
        that joined since then is kept (the list could not know it)."""
        for address in list(self._device):
            if address not in authorised and self._joined_at[address] < read_at:
                self.leave(address)

    def adopt(
        self, authorised: Iterable[ClientAddress], mac_of: Mapping[ClientAddress, str]
    ) -> None:
        """Give a device to every authorised address without one (by MAC, or uncounted when
        the kernel does not know it), and move an address known only by itself to its MAC's
        device once the kernel knows the MAC. (A device tapped without a MAC keeps its own:
        it may be someone behind a shared MAC.)"""
        for address in authorised:
            key = self._device.get(address)
            if key is None and address not in mac_of:
                self.join(address, f"{_UNKNOWN}{address}")
            elif key is None or (key.startswith(_UNKNOWN) and address in mac_of):
                self.join(address, self.key(mac_of[address], address))

    @staticmethod
    def by_address(key: str) -> bool:
        """A key that is not a MAC's: a device tapped, or found, without one."""
        return key.startswith((_BY_ADDRESS, _UNKNOWN))
