"""Which authorised addresses are one device: what ``max_clients`` and "clients now" count.

A device gets an opaque number at its tap; the addresses let out with it (its other addresses
in the neighbour table) and those it starts using later (a new IPv6 privacy address) share that
number for the whole session, up to ``max_addresses``. Addresses the portal did not let out
itself (authorised before a restart, or by hand) are adopted at the next refresh: grouped by
MAC address when the kernel knows it, one device each otherwise.

Memory only, and nothing in it is a MAC: a number per address, forgotten when the address's
access ends. Not thread-safe: :class:`~captive_portal.admission.Admission` holds a lock.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping

from captive_portal.access import ClientAddress


class DeviceBook:
    def __init__(self, max_addresses: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_addresses = max_addresses
        self._monotonic = monotonic
        self._device: dict[ClientAddress, int] = {}
        self._joined_at: dict[ClientAddress, float] = {}
        self._sizes: Counter[int] = Counter()
        self._reserved: set[int] = set()
        self._numbers = itertools.count(1)

    def count(self) -> int:
        """Devices online, and places reserved by taps in progress."""
        return len(self._sizes) + len(self._reserved)

    def device_of(self, addresses: Iterable[ClientAddress]) -> int | None:
        """The device the first known of ``addresses`` belongs to."""
        for address in addresses:
            if address in self._device:
                return self._device[address]
        return None

    def reserve(self) -> int:
        """A place for a new device, held while its tap is checked (a code, say)."""
        device = next(self._numbers)
        self._reserved.add(device)
        return device

    def release(self, device: int) -> None:
        """The tap did not go through (or it did, and the device now has addresses)."""
        self._reserved.discard(device)

    def has_room(self, device: int) -> bool:
        return self._sizes[device] < self.max_addresses

    def join(self, address: ClientAddress, device: int) -> None:
        """Count ``address`` as ``device``'s (even past ``max_addresses``: callers check
        :meth:`has_room` for addresses the device did not tap from)."""
        self._leave(address)
        self._device[address] = device
        self._sizes[device] += 1
        self._joined_at[address] = self._monotonic()

    def now(self) -> float:
        """The book's time, for :meth:`keep_only`'s ``read_at``."""
        return self._monotonic()

    def keep_only(self, authorised: Collection[ClientAddress], read_at: float) -> None:
        """Forget the addresses no longer authorised, given a list read at ``read_at``; one
        that joined since then is kept (the list could not know it)."""
        for address in list(self._device):
            if address not in authorised and self._joined_at[address] < read_at:
                self._leave(address)

    def adopt(
        self, authorised: Iterable[ClientAddress], devices: Mapping[str, list[ClientAddress]]
    ) -> None:
        """Give a device to every authorised address that has none (after a restart)."""
        unknown = {a for a in authorised if a not in self._device}
        if not unknown:
            return
        for addresses in devices.values():
            newcomers = [a for a in addresses if a in unknown]
            if not newcomers:
                continue
            device = self.device_of(addresses) or next(self._numbers)
            for address in newcomers:
                self.join(address, device)
                unknown.discard(address)
        for address in unknown:
            self.join(address, next(self._numbers))

    def _leave(self, address: ClientAddress) -> None:
        device = self._device.pop(address, None)
        if device is None:
            return
        del self._joined_at[address]
        self._sizes[device] -= 1
        if self._sizes[device] <= 0:
            del self._sizes[device]
