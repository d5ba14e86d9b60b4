"""Removable media and shares the guest mounted: unmounted at every reset, never wiped.

A USB stick the resident forgot in the PC stays mounted under ``/media/<guest>/…`` (udisks2; or
``/run/media/<guest>/…`` on Fedora-like systems) for the next resident to browse; a share
mounted inside the home, or a FUSE file system the guest mounted anywhere (sshfs, gvfs under
``/run/user/<uid>``), would make the home wipe walk into someone else's files, or hang on a
hostile FUSE server. So every such mount is **unmounted, never deleted**: it is the resident's
own stick or an admin's share. Deepest first (a mount inside a mount). ``umount`` first; if it
fails (busy), ``umount -l`` detaches it from the tree at once and the kernel finishes when the
last user lets go: the next resident cannot reach it any more, and the report says so.

The mount table comes from ``/proc/self/mountinfo`` (paths there escape space, tab, newline and
backslash as octal ``\\040``, ``\\011``, ``\\012``, ``\\134``). The agent's systemd unit gives it
a mount namespace of its own (ProtectSystem=…), from which an unmount does not propagate to the
PC's; when the agent's namespace is not PID 1's, the table is read from ``/proc/1/mountinfo``
and ``umount`` runs through ``nsenter --mount=/proc/1/ns/mnt``.

The reset calls this while the guest's processes are frozen, so the guest cannot swap a
directory on a mount's path for a symlink between the reading of the table and the unmount.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from agent.actions import run_quiet
from agent.pc.guest import FIRST_REGULAR_UID, GuestAccount
from agent.pc.report import Leftover, WipeReport, printable_path

SELF_MOUNTINFO = Path("/proc/self/mountinfo")
HOST_MOUNTINFO = Path("/proc/1/mountinfo")
HOST_MOUNT_NS = "/proc/1/ns/mnt"
UMOUNT_TIMEOUT_S = 15
_OCTAL = re.compile(rb"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    path: str
    fstype: str
    super_options: frozenset[str]


def unmount_guest_media(guest: GuestAccount, report: WipeReport) -> None:
    """Unmount (never wipe) every mount in the guest's areas and every FUSE mount of the guest."""
    _check(guest)
    for mount in sorted(_guest_mounts(guest), key=_depth, reverse=True):
        # --no-canonicalize: umount must not stat the path, which would hang on a guest's FUSE
        # mount whose server the reset froze.
        if _umount(["umount", "--no-canonicalize", "--", mount.path]):
            report.did(f"unmounted {printable_path(mount.path)}")
        elif _umount(["umount", "--no-canonicalize", "--lazy", "--", mount.path]):
            report.did(f"detached {printable_path(mount.path)} (busy: lazy unmount)")
    for leftover in guest_mounts_left(guest):
        report.left(leftover.area, leftover.path, leftover.reason)


def guest_mounts_left(guest: GuestAccount) -> list[Leftover]:
    """Mounts still in the guest's areas, as the PC's mount table shows them."""
    _check(guest)
    return [
        Leftover("media", printable_path(m.path), "still mounted") for m in _guest_mounts(guest)
    ]


def _guest_mounts(guest: GuestAccount) -> list[Mount]:
    inside = [Path("/media") / guest.name, Path("/run/media") / guest.name]
    strictly_inside = [Path(f"/run/user/{guest.uid}"), guest.home, guest.home.resolve()]
    found = []
    for mount in _mounts():
        path = Path(mount.path)
        if (
            any(path == area or path.is_relative_to(area) for area in inside)
            or any(path != area and path.is_relative_to(area) for area in strictly_inside)
            or (mount.fstype.startswith("fuse") and f"user_id={guest.uid}" in mount.super_options)
        ):
            found.append(mount)
    return found


def _mounts() -> list[Mount]:
    """The mount table of the PC's mount namespace (see the module's docstring)."""
    return read_mount_table(SELF_MOUNTINFO if _in_host_namespace() else HOST_MOUNTINFO)


def read_mount_table(table: Path = SELF_MOUNTINFO) -> list[Mount]:
    """The mounts of a ``mountinfo`` file, paths with their octal escapes decoded."""
    mounts = []
    # "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
    for line in table.read_bytes().splitlines():
        fields = line.split(b" ")
        try:
            separator = fields.index(b"-", 6)
        except ValueError:
            continue
        mounts.append(
            Mount(
                path=os.fsdecode(_unescape(fields[4])),
                fstype=os.fsdecode(fields[separator + 1]),
                super_options=frozenset(os.fsdecode(fields[-1]).split(",")),
            )
        )
    return mounts


def _unescape(field: bytes) -> bytes:
    return _OCTAL.sub(lambda m: bytes([int(m[1], 8)]), field)


def _umount(argv: list[str]) -> bool:
    if not _in_host_namespace():
        argv = ["nsenter", f"--mount={HOST_MOUNT_NS}", "--", *argv]
    done = run_quiet(argv, timeout_s=UMOUNT_TIMEOUT_S)
    return done is not None and done.returncode == 0


def _in_host_namespace() -> bool:
    try:
        return os.readlink("/proc/self/ns/mnt") == os.readlink(HOST_MOUNT_NS)
    except OSError:  # PID 1's namespace not readable (a container): ours is the one we have
        return True


def _depth(mount: Mount) -> int:
    return len(Path(mount.path).parts)


def _check(guest: GuestAccount) -> None:
    if guest.uid < FIRST_REGULAR_UID or "/" in guest.name or not guest.name:
        raise ValueError(f"refusing to unmount the media of {guest.name!r}: not a guest")
    if not guest.home.is_absolute() or guest.home in (Path("/"), Path("/home")):
        raise ValueError(f"refusing a guest whose home is {guest.home}")
