"""How the portal knows a device without knowing it: a hash of its MAC, salted anew each day.

A device is HMAC-SHA256(day's salt, MAC address). The MAC comes from the kernel's neighbour
table (the client is on our link); when it is not there (IPv6 privacy address not yet
resolved, a test on loopback), the IP address stands in. The salt is 32 random bytes made at
the first connection of each local day, kept in memory and in ``<runtime_dir>/today.json`` (mode
0600, on tmpfs: never on a disk nor in a backup, where a vendor's few million possible MACs could
be tried against the salt) with the day's hashes, so a restart of the portal the same day
neither recounts devices nor loses them.
At day change the file is replaced: yesterday's salt is gone and its hashes cannot be linked to
today's. A randomised MAC is simply another device. No MAC or IP is ever written anywhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import subprocess
import threading
from datetime import date
from pathlib import Path
from typing import Protocol

from captive_portal.access import ClientAddress

LEDGER_FILE = "today.json"
# Neighbour states (`ip neigh`) of an address its device is using now; not STALE, not FAILED.
_IN_USE = frozenset({"reachable", "delay", "probe", "permanent"})
_LLADDR = re.compile(r"\blladdr ((?:[0-9a-f]{2}:){5}[0-9a-f]{2})\b")


@dataclasses.dataclass(frozen=True)
class Neighbour:
    """One line of the kernel's neighbour table: an address on our link and its MAC."""

    address: ClientAddress
    mac: str
    # The kernel has heard from it lately (REACHABLE, DELAY, PROBE) or was told (PERMANENT).
    # A STALE address may be one its device left, which DHCP has since given to another.
    in_use: bool


class NeighbourTable(Protocol):
    def hardware_address(self, address: ClientAddress) -> str | None:
        """The MAC address of a client on our link, or None when the kernel does not know it."""
        ...

    def addresses_of(self, mac: str) -> list[ClientAddress]:
        """The addresses ``mac`` is using (a phone's IPv4 and IPv6 alike)."""
        ...

    def entries(self) -> list[Neighbour]:
        """Every address on the link whose MAC the kernel knows, link-local ones aside."""
        ...


class KernelNeighbours:
    """Asks the kernel: ``ip neigh show`` (IPv4 and IPv6 alike)."""

    def hardware_address(self, address: ClientAddress) -> str | None:
        shown = _ip_neigh_show(str(address))
        match = _LLADDR.search(shown.lower())
        return match.group(1) if match else None

    def addresses_of(self, mac: str) -> list[ClientAddress]:
        mac = mac.lower()
        return [n.address for n in self._read(mac) if n.mac == mac and n.in_use]

    def entries(self) -> list[Neighbour]:
        return self._read()

    def _read(self, only_mac: str | None = None) -> list[Neighbour]:
        found: list[Neighbour] = []
        for line in _ip_neigh_show().lower().splitlines():
            if only_mac is not None and only_mac not in line:
                continue  # a tap asks for one device: no parsing of the others' lines
            match = _LLADDR.search(line)
            if match is None:  # INCOMPLETE and FAILED have no device behind them
                continue
            try:
                address = ipaddress.ip_address(line.split()[0])
            except ValueError:
                continue
            if not address.is_link_local:  # fe80:: never leaves the link: nothing to grant
                in_use = line.rsplit(None, 1)[-1] in _IN_USE
                found.append(Neighbour(address, match.group(1), in_use))
        return found


def _ip_neigh_show(*selector: str) -> str:
    try:
        return subprocess.run(
            ["ip", "neigh", "show", *selector],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


class DailyLedger:
    """The day's salt and the salted hashes of the devices that connected that day."""

    def __init__(self, state_dir: Path) -> None:
        self._path = Path(state_dir) / LEDGER_FILE
        self._lock = threading.Lock()
        self._day: date | None = None
        self._salt = b""
        self._devices: set[str] = set()
        self._load()

    def device_id(self, identifier: str, day: date) -> str:
        """The anonymous id of a device (its MAC, or IP) on ``day``."""
        with self._lock:
            self._turn_to(day)
            return hmac.new(self._salt, identifier.encode(), hashlib.sha256).hexdigest()

    def note_connected(self, device_id: str, day: date) -> None:
        with self._lock:
            self._turn_to(day)
            if device_id not in self._devices:
                self._devices.add(device_id)
                self._save()

    def unique_devices(self, day: date) -> int:
        with self._lock:
            self._turn_to(day)
            return len(self._devices)

    def _turn_to(self, day: date) -> None:
        if day == self._day:
            return
        # A new day: a new salt, and yesterday's salt and hashes are overwritten on disk.
        self._day, self._salt, self._devices = day, secrets.token_bytes(32), set()
        self._save()

    def _load(self) -> None:
        try:
            data = json.loads(self._path.read_text())
            self._day = date.fromisoformat(data["day"])
            self._salt = bytes.fromhex(data["salt"])
            self._devices = {str(d) for d in data["devices"]}
        except (OSError, ValueError, KeyError, TypeError):
            self._day = None  # nothing usable: the next use starts a fresh day

    def _save(self) -> None:
        assert self._day is not None
        data = {
            "day": self._day.isoformat(),
            "salt": self._salt.hex(),
            "devices": sorted(self._devices),
        }
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        tmp.replace(self._path)


def device_identifier(address: ClientAddress, mac: str | None) -> str:
    """What a device is known by before hashing: its MAC (from the neighbour table), else its
    IP address."""
    return f"mac:{mac}" if mac else f"ip:{address}"
