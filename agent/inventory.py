"""What the device is: vendor, model, serial, firmware date, CPU, RAM, disks, OS, MAC addresses."""

from __future__ import annotations

import platform
import socket
from datetime import datetime
from pathlib import Path

import psutil

from agent.metrics import real_partitions
from agent.protocol import Disk, Inventory

_TEXT = 200  # protocol.Text's max_length
_SHORT = 64
FIRST_PC_YEAR = 1981  # an earlier firmware date is a placeholder, not the machine's age


class InventoryCollector:
    """Reads the inventory from ``root`` (``/`` on a device; a fake tree in tests).

    The DMI serial number is readable by root only; it is an empty string when unreadable.
    """

    def __init__(self, *, agent_version: str = "", root: Path = Path("/"), name: str = ""):
        """``name`` is what staff will see; the host name when empty (many public PCs are
        imaged from one master and share a host name)."""
        self._root = Path(root)
        self._agent_version = agent_version
        self._name = name

    def collect(self) -> Inventory:
        os_release = self._os_release()
        return Inventory(
            hostname=(self._name or socket.gethostname())[:_TEXT],
            os_name=os_release.get("NAME", platform.system())[:_TEXT],
            os_version=os_release.get("VERSION", os_release.get("VERSION_ID", ""))[:_TEXT],
            kernel=platform.release()[:_TEXT],
            cpu_model=self._cpu_model()[:_TEXT],
            cpu_count=psutil.cpu_count(logical=True) or 0,
            ram_bytes=psutil.virtual_memory().total,
            vendor=self._dmi("sys_vendor"),
            model=self._dmi("product_name"),
            serial=self._dmi("product_serial"),
            disks=self._disks(),
            macs=self._macs(),
            agent_version=self._agent_version[:_SHORT],
            firmware_date=firmware_date(self._dmi("bios_date")),
        )

    def _read(self, relative: str) -> str:
        try:
            return (self._root / relative).read_text(errors="replace")
        except OSError:  # absent (VM, ARM board) or root-only (the serial)
            return ""

    def _dmi(self, name: str) -> str:
        return self._read(f"sys/class/dmi/id/{name}").strip()[:_TEXT]

    def _cpu_model(self) -> str:
        for line in self._read("proc/cpuinfo").splitlines():
            key, _, value = line.partition(":")
            # x86 says "model name"; many ARM kernels say "Model" or only "Hardware".
            if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                return value.strip()
        return platform.machine()

    def _os_release(self) -> dict[str, str]:
        text = self._read("etc/os-release") or self._read("usr/lib/os-release")
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("\"'")
        return values

    def _disks(self) -> list[Disk]:
        disks = []
        for part in real_partitions():
            try:
                total = psutil.disk_usage(part.mountpoint).total
            except OSError:
                continue
            disks.append(
                Disk(
                    device=part.device[:_TEXT],
                    mountpoint=part.mountpoint[:_TEXT],
                    fstype=part.fstype[:_SHORT],
                    total_bytes=total,
                )
            )
        return disks

    def _macs(self) -> list[str]:
        macs = []
        for name, addresses in sorted(psutil.net_if_addrs().items()):
            if name == "lo":
                continue
            for address in addresses:
                real = address.address and address.address != "00:00:00:00:00:00"
                if address.family == psutil.AF_LINK and real:
                    macs.append(address.address[:_SHORT])
        return sorted(set(macs))[:64]


def firmware_date(bios_date: str) -> str:
    """DMI's ``bios_date`` (SMBIOS: ``MM/DD/YYYY``; ``MM/DD/YY`` before SMBIOS 2.3) as ISO
    ``YYYY-MM-DD``; "" when it is empty or not a date (some firmwares write "00/00/0000" or
    leave the vendor's placeholder)."""
    for pattern in ("%m/%d/%Y", "%m/%d/%y"):
        try:
            day = datetime.strptime(bios_date.strip(), pattern).date()
        except ValueError:
            continue
        if day.year >= FIRST_PC_YEAR:  # "%Y" also reads "04/01/14" as the year 14
            return day.isoformat()
    return ""
