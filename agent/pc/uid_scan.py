"""The last proof of a wipe: nothing the guest's uid owns is left on the PC's local filesystems.

Each cleaner knows one area (the home, the temporary dirs, cron, print jobs …); a resident can
still leave a file anywhere the guest may write that nobody thought of — a world-writable
directory an application made (``/var/games``, ``/run/screen``), a crash dump, a lock — or a
program run as root can hand one over (``chown``). So after the reset, one walk of every local
filesystem looks for anything owned by the guest's uid *outside* the areas already reset; each
find is a :class:`~agent.pc.report.Leftover` (the login locks until staff have looked).

The walk is the reset's slowest part (a Debian desktop holds about 400,000 entries: seconds with
a warm cache), so it runs in the reset's background part, after the PC is ready, at idle I/O
priority. It must not be fooled nor hang, since the guest shaped some of what it walks:

* it reads the mount table and walks only filesystems that keep Unix owners on local storage
  (:data:`LOCAL_FILESYSTEMS`: not ``proc``/``sysfs``/``devtmpfs``, not NFS/CIFS, not FUSE — a
  guest's FUSE server could stall a ``stat`` forever —, not FAT/exFAT/NTFS, whose owner is a mount
  option, nor read-only images like squashfs); each is walked from its own mount point;
* it never crosses into another mount: a mount point is recognised by its path *before* any
  ``stat`` on it, so even a stalled network mount below a local one is never touched;
* it never follows a symbolic link (``lstat``, and ``O_NOFOLLOW`` on every directory it opens),
  and enters a directory only if it is still the one it listed (device and inode): a directory
  swapped for a link meanwhile leads nowhere else;
* it is bounded: :data:`MAX_ENTRIES` entries and :data:`MAX_SECONDS` seconds, checked between
  two directories. A scan cut short proves nothing about the rest, so that is a leftover too,
  saying where it stopped (measured here: 400,000 entries of ``/`` in about 5 s on a busy
  two-core machine, warm cache).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from agent.pc.guest import FIRST_REGULAR_UID, GuestAccount
from agent.pc.media import read_mount_table
from agent.pc.report import Leftover, printable_path

MOUNTINFO = Path("/proc/self/mountinfo")
# Filesystems that keep Unix owners on the PC's own storage; tmpfs holds /run (its sticky
# world-writable dirs), overlay is the root of a PC booted from a read-only image.
LOCAL_FILESYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "zfs", "bcachefs",
     "nilfs2", "overlay", "tmpfs"}
)  # fmt: skip
# Kernel views, not storage (a tmpfs mounted below /sys is cgroup plumbing).
VIRTUAL_TREES = ("/proc", "/sys", "/dev")
# Reset by their own cleaners (agent/pc/jobs.py): the guest's crontab is the guest's file.
OTHER_RESET_AREAS = ("/var/spool/cron",)
MAX_ENTRIES = 5_000_000
MAX_SECONDS = 300.0
MAX_FOUND = 1000
AREA = "uid-scan"
FOUND = "owned by the guest outside the reset areas"
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def local_roots(mountinfo: Path = MOUNTINFO) -> list[Path]:
    """The mount points of the local filesystems in the mount table, ``/`` first."""
    roots = {
        mount.path
        for mount in read_mount_table(mountinfo)
        if mount.fstype in LOCAL_FILESYSTEMS and not _inside(mount.path, VIRTUAL_TREES)
    }
    return [Path(root) for root in sorted(roots, key=lambda p: (p.count("/"), p))]


def guest_areas(guest: GuestAccount) -> list[Path]:
    """Areas of the guest's that other cleaners reset (their checks ran before the PC was ready)."""
    return [
        Path("/media") / guest.name,
        Path("/run/media") / guest.name,
        *(Path(area) for area in OTHER_RESET_AREAS),
    ]


def find_guest_files(
    guest: GuestAccount,
    reset_areas: Sequence[Path],
    *,
    roots: Sequence[Path] | None = None,
    mountinfo: Path = MOUNTINFO,
    max_entries: int = MAX_ENTRIES,
    max_seconds: float = MAX_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> list[Leftover]:
    """Everything owned by the guest's uid on the local filesystems, outside ``reset_areas``.

    ``roots`` default to every local filesystem (:func:`local_roots`); tests give their own.
    """
    if guest.uid < FIRST_REGULAR_UID:
        raise ValueError(f"refusing to look for the files of uid {guest.uid}: not a guest")
    areas = [*reset_areas, *guest_areas(guest)]
    walk = _Walk(
        uid=guest.uid,
        # Both spellings: a home under /home may be reached through a link to /data/home.
        skip={str(area) for area in areas} | {os.path.realpath(area) for area in areas},
        mount_points={mount.path for mount in read_mount_table(mountinfo)},
        max_entries=max_entries,
        deadline=clock() + max_seconds,
        clock=clock,
    )
    for root in local_roots(mountinfo) if roots is None else roots:
        if not walk.scan(str(root)):
            break
    return walk.found


class _Walk:
    """One scan: what it found, how far it went."""

    def __init__(
        self,
        *,
        uid: int,
        skip: set[str],
        mount_points: set[str],
        max_entries: int,
        deadline: float,
        clock: Callable[[], float],
    ) -> None:
        self.uid = uid
        self.skip = skip
        self.mount_points = mount_points
        self.max_entries = max_entries
        self.deadline = deadline
        self.clock = clock
        self.entries = 0
        self.found: list[Leftover] = []

    def scan(self, root: str) -> bool:
        """Walk the filesystem mounted at ``root``; False once a bound stopped the scan."""
        if _inside(root, self.skip):
            return True
        try:
            st = os.lstat(root)
        except OSError:
            return True  # not there (a mount of another namespace): nothing to walk
        if st.st_uid == self.uid:
            self._found(root)
        pending = [(root, st.st_dev, st.st_ino)] if stat.S_ISDIR(st.st_mode) else []
        while pending:
            directory, dev, ino = pending.pop()
            if not self._within_bounds(directory):
                return False
            pending += self._list(directory, dev, ino)
        return True

    def _list(self, directory: str, dev: int, ino: int) -> list[tuple[str, int, int]]:
        """Check the entries of ``directory``; its subdirectories to walk."""
        try:
            fd = os.open(directory, _OPEN_DIR)
        except OSError:
            return []  # gone, or swapped for a link since it was listed
        subdirs = []
        try:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != (dev, ino):
                return []  # not the directory that was listed: a path changed meanwhile
            prefix = directory.rstrip("/") + "/"
            for name in os.listdir(fd):
                path = prefix + name
                # Before any stat: a mount point's stat would reach the mounted filesystem.
                if path in self.mount_points or path in self.skip:
                    continue
                self.entries += 1
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue
                if st.st_uid == self.uid:
                    self._found(path)
                if stat.S_ISDIR(st.st_mode):
                    subdirs.append((path, st.st_dev, st.st_ino))
        except OSError:
            return subdirs  # the directory went away while being read
        finally:
            os.close(fd)
        return subdirs

    def _within_bounds(self, directory: str) -> bool:
        if len(self.found) >= MAX_FOUND:
            self.found.append(
                Leftover(AREA, "", f"more than {MAX_FOUND} files of the guest: stopped counting")
            )
            return False
        if self.entries >= self.max_entries or self.clock() > self.deadline:
            reason = (
                f"the scan stopped at its limit ({self.entries} entries): the rest is unchecked"
            )
            self.found.append(Leftover(AREA, printable_path(directory), reason))
            return False
        return True

    def _found(self, path: str) -> None:
        self.found.append(Leftover(AREA, printable_path(path), FOUND))


def _inside(path: str, areas: Iterable[str]) -> bool:
    return any(path == area or path.startswith(area.rstrip("/") + "/") for area in areas)
