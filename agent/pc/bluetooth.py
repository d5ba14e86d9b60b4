"""Bluetooth devices a resident paired with the PC: forgotten at each reset, staff's kept.

BlueZ keeps a pairing in ``/var/lib/bluetooth/<adapter>/<device>/`` (``info`` holds the link
keys, so the resident's phone or headset reconnects to the PC on its own, and the device's
name — often the resident's own, "iPhone de Marie"), and the names of devices it merely saw in
``<adapter>/cache/<device>``. Both tell the next resident, or staff, who used the PC.

The PC is shared, so not every pairing is a resident's: a library may pair a keyboard or a mouse.
The rule is a record, not a guess: ``borne agent pc setup`` records the devices paired *then*
(:func:`record_staff_devices`, the staff's), and each reset removes every pairing and remembered
name that is not in that record. Dates cannot tell them apart: bluetoothd rewrites ``info`` when
a device reconnects. Without a record (setup never ran, or the record is unreadable) every
pairing goes: privacy does not depend on setup, and a staff keyboard is paired again once.

A running bluetoothd holds the pairings in memory too, and would keep the link keys until it
restarts: it is asked first (``bluetoothctl remove``, which also deletes its storage); whatever
is still on disk after that (bluetoothd not running, or not answering) is deleted here, and
takes effect at bluetoothd's next start.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from agent.actions import run_quiet
from agent.pc.report import Leftover, WipeReport
from agent.pc.wipe import TreeWiper, WipeError

BLUETOOTH_STORAGE = Path("/var/lib/bluetooth")
STAFF_DEVICES = "bluetooth-staff-devices.json"
BLUETOOTHCTL_TIMEOUT_S = 5
AREA = "bluetooth"
_ADDRESS = re.compile(r"[0-9A-F]{2}(:[0-9A-F]{2}){5}")

# Asks bluetoothd to forget a device by its address; False if it did not.
Forget = Callable[[str], bool]


def known_devices(storage: Path = BLUETOOTH_STORAGE) -> set[str]:
    """Pairings (``<adapter>/<device>``) and remembered names (``<adapter>/cache/<device>``)."""
    found = set()
    for adapter in _entries(storage, directories=True):
        found |= {f"{adapter}/{device}" for device in _entries(storage / adapter, directories=True)}
        cache = storage / adapter / "cache"
        found |= {f"{adapter}/cache/{device}" for device in _entries(cache, directories=False)}
    return found


def record_staff_devices(record: Path, storage: Path = BLUETOOTH_STORAGE) -> int:
    """Record the devices paired now as the staff's (``borne agent pc setup``); how many."""
    devices = sorted(known_devices(storage))
    temporary = record.with_suffix(".tmp")
    temporary.write_text(json.dumps({"devices": devices}, indent=1), encoding="utf-8")
    os.chmod(temporary, 0o600)
    os.replace(temporary, record)
    return len(devices)


def remove_guest_pairings(
    report: WipeReport,
    *,
    record: Path,
    storage: Path = BLUETOOTH_STORAGE,
    forget: Forget | None = None,
) -> None:
    """Forget every pairing and remembered name that is not in the staff's record."""
    staff = _staff_devices(record)
    if staff is None:
        staff = set()
        if known_devices(storage):
            report.did("no record of the staff's Bluetooth devices: every pairing goes")
    guests = sorted(known_devices(storage) - staff)
    if not guests:
        return
    pairings = [device for device in guests if "/cache/" not in device]
    if forget is not None:
        for device in pairings:
            if not forget(device.rsplit("/", 1)[1]):
                break  # bluetoothd is not running or not answering: the files go below
    for device in guests:
        _remove(storage / device, report)
    if pairings:
        report.did(f"forgot {len(pairings)} Bluetooth pairing(s) made since setup")
    for leftover in guest_pairings_left(record=record, storage=storage):
        report.left(leftover.area, leftover.path, leftover.reason)


def guest_pairings_left(*, record: Path, storage: Path = BLUETOOTH_STORAGE) -> list[Leftover]:
    """Pairings and remembered names that are not the staff's (all of them, without a record)."""
    staff = _staff_devices(record) or set()
    return [
        Leftover(AREA, str(storage / device), "a Bluetooth device the staff did not pair")
        for device in sorted(known_devices(storage) - staff)
    ]


def forget_with_bluetoothctl(address: str) -> bool:
    """``bluetoothctl remove ADDRESS``: bluetoothd drops the keys it holds and their storage."""
    done = run_quiet(["bluetoothctl", "remove", address], timeout_s=BLUETOOTHCTL_TIMEOUT_S)
    return done is not None and done.returncode == 0


def _remove(path: Path, report: WipeReport) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return  # bluetoothd removed it when asked
    try:
        if stat.S_ISDIR(st.st_mode):
            TreeWiper(report, AREA).wipe_tree(path)
        else:
            os.unlink(path)
            report.removed(1, st.st_blocks * 512)
    except (WipeError, OSError) as exc:
        report.left(AREA, str(path), f"not removed: {exc}")


def _staff_devices(record: Path) -> set[str] | None:
    try:
        devices = json.loads(record.read_text(encoding="utf-8"))["devices"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {device for device in devices if isinstance(device, str)}


def _entries(directory: Path, *, directories: bool) -> list[str]:
    """Names that are Bluetooth addresses: directories (not links) or other entries."""
    try:
        with os.scandir(directory) as entries:
            return [
                entry.name
                for entry in entries
                if _ADDRESS.fullmatch(entry.name)
                and entry.is_dir(follow_symlinks=False) == directories
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []
