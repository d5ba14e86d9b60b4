"""The guest's files in the shared temporary directories, moved away in one rename each.

``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/var/crash`` and ``/run/lock`` are shared by every
account: only what the guest owns is theirs. A top-level entry owned by the guest uid is moved
whole into a root-only trash in the same directory (same filesystem, one ``rename``) and
deleted later in the background. A directory that someone else owns but anyone may write to (a
sticky ``/tmp/.X11-unix``, a world-writable ``/tmp/shared``) is left in place, and only the
guest's entries one level down in it are moved. Nothing owned by another user is ever moved: a
guest cannot get a colleague's file deleted by naming it, since ownership is read with ``lstat``
relative to the directory we hold, and links are never followed.

``/run/user/<uid>`` is the guest's own runtime directory (a per-user tmpfs made by logind): it is
emptied in place, since a mount cannot be renamed.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from agent.pc.guest import GuestAccount
from agent.pc.report import WipeReport
from agent.pc.wipe import Trash, TreeWiper, WipeError, place_of

# The shared directories any account may write to: temporary files, and where crash reports
# (with a core dump of, say, the browser) and lock files land.
DEFAULT_TEMP_DIRS = (
    Path("/tmp"),  # noqa: S108 - the real ones
    Path("/var/tmp"),  # noqa: S108
    Path("/dev/shm"),  # noqa: S108
    Path("/var/crash"),
    Path("/run/lock"),
)
RUN_USER = Path("/run/user")
AREA = "tmp"
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class TempAreas:
    """Where the guest may have left temporary files (tests point these at their own dirs)."""

    dirs: tuple[Path, ...] = DEFAULT_TEMP_DIRS
    run_user: Path = RUN_USER

    def runtime_dir(self, guest: GuestAccount) -> Path:
        return self.run_user / str(guest.uid)


@dataclass(frozen=True)
class TempEntry:
    """One guest-owned entry: its name in the directory ``parent``."""

    parent: Path
    name: bytes

    @property
    def path(self) -> bytes:
        return os.fsencode(self.parent) + b"/" + self.name


def guest_temp_entries(guest: GuestAccount, temp_dir: Path) -> list[TempEntry]:
    """The guest's entries in ``temp_dir``, and one level down in others' world-writable dirs."""
    found: list[TempEntry] = []
    try:
        top_fd = os.open(temp_dir, _OPEN_DIR)
    except FileNotFoundError:
        return found
    try:
        top_mount = place_of(top_fd).mount_id
        for name, st in _entries(top_fd):
            if st.st_uid == guest.uid:
                found.append(TempEntry(temp_dir, name))
            elif stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_IWOTH:
                found += _guest_entries_below(guest, top_fd, top_mount, temp_dir, name)
    finally:
        os.close(top_fd)
    return found


def move_guest_temp_files(
    guest: GuestAccount, report: WipeReport, areas: TempAreas = TempAreas()
) -> list[Path]:
    """Move every guest entry of the temporary dirs into trash; the trash dirs to delete later.

    The runtime directory is emptied at once. What cannot be moved is reported.
    """
    trashes: list[Path] = []
    moved = 0
    for temp_dir in areas.dirs:
        entries = guest_temp_entries(guest, temp_dir)
        if not entries:
            continue
        trash = Trash.create(temp_dir)
        trashes.append(trash.path)
        for entry in entries:
            moved += _move(entry, trash, report)
    if moved:
        report.did(f"moved {moved} temporary file(s) of the guest away")
    _empty_runtime_dir(guest, report, areas)
    return trashes


def _move(entry: TempEntry, trash: Trash, report: WipeReport) -> int:
    try:
        parent_fd = os.open(entry.parent, _OPEN_DIR)
    except OSError as exc:
        report.left(AREA, entry.path, f"cannot open its directory: {exc.strerror}")
        return 0
    try:
        trash.take(parent_fd, entry.name)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        reason = (
            "busy: something is mounted on it"
            if exc.errno in (errno.EBUSY, errno.EXDEV)
            else f"cannot move: {exc.strerror}"
        )
        report.left(AREA, entry.path, reason)
        return 0
    finally:
        os.close(parent_fd)
    return 1


def _empty_runtime_dir(guest: GuestAccount, report: WipeReport, areas: TempAreas) -> None:
    runtime = areas.runtime_dir(guest)
    try:
        st = os.lstat(runtime)
    except FileNotFoundError:
        return
    # Only the guest's own real directory: a link or someone else's dir there is not touched.
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != guest.uid:
        report.left(AREA, os.fsencode(runtime), "not the guest's own directory: left untouched")
        return
    try:
        TreeWiper(report, AREA).empty_directory(runtime)
    except WipeError as exc:
        report.left(AREA, os.fsencode(runtime), str(exc))


def _entries(dir_fd: int) -> list[tuple[bytes, os.stat_result]]:
    listed = []
    with os.scandir(dir_fd) as entries:
        names = [os.fsencode(entry.name) for entry in entries]
    for name in names:
        try:
            listed.append((name, os.stat(name, dir_fd=dir_fd, follow_symlinks=False)))
        except FileNotFoundError:
            continue
    return listed


def _guest_entries_below(
    guest: GuestAccount, top_fd: int, top_mount: int, temp_dir: Path, name: bytes
) -> list[TempEntry]:
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=top_fd)
    except OSError:
        return []  # gone, or swapped for a link: not ours to follow
    try:
        if place_of(fd).mount_id != top_mount:
            return []  # another filesystem mounted there: not a temporary directory of ours
        parent = temp_dir / os.fsdecode(name)
        return [TempEntry(parent, below) for below, st in _entries(fd) if st.st_uid == guest.uid]
    finally:
        os.close(fd)
