"""The guest's home swapped for a fresh one in constant time, whatever the last resident left.

A *spare* home is built ahead of time from the site's skeleton in a root-only (0700) area beside
the home, ``<home's parent>/.borne-spare-<guest>/``, so it is on the same filesystem and the guest
can neither see nor tamper with it while it waits (no link planted in it, no hard link taken to a
file that will be theirs later). A reset is then two renames: the old home into a root-only trash
(:class:`~agent.pc.wipe.Trash`), the spare into its place. The old data is deleted later, in the
background, by :mod:`agent.pc.wipe`.

The spare remembers the fingerprint of the skeleton (and of the guest's uid and gid) it was built
from; when the site changes its skeleton the spare is stale and is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import threading
from pathlib import Path

from agent.pc.guest import GuestAccount
from agent.pc.report import WipeReport
from agent.pc.wipe import Trash, TreeWiper, mount_id

SPARE_PREFIX = ".borne-spare-"
FINGERPRINT_VERSION = b"borne-spare-1"
HOME_MODE = 0o700  # residents' homes are private, whatever the skeleton's top directory says
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class HomeError(Exception):
    """The home could not be swapped; the message says what to fix."""


def skeleton_fingerprint(skeleton: Path, guest: GuestAccount) -> str:
    """A hash of every name, type, mode, link target and content of ``skeleton``.

    The guest's uid and gid are in it too: a spare built for an earlier account of the same name
    would hand its files to the wrong uid.
    """
    if not skeleton.is_dir():
        raise HomeError(f"the skeleton {skeleton} is not a directory")
    digest = hashlib.sha256(FINGERPRINT_VERSION)
    digest.update(f"{guest.uid}:{guest.gid}".encode())
    for relative, st in tree_entries(skeleton):
        digest.update(b"\0" + os.fsencode(relative) + b"\0" + str(st.st_mode).encode())
        path = skeleton / relative
        if stat.S_ISLNK(st.st_mode):
            digest.update(os.fsencode(os.readlink(path)))
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as content:
                digest.update(hashlib.file_digest(content, "sha256").digest())
    return digest.hexdigest()


def tree_entries(
    root: Path, skip: frozenset[Path] = frozenset()
) -> list[tuple[Path, os.stat_result]]:
    """Every entry under ``root`` (relative paths), sorted, links not followed, iterative.

    Directories in ``skip`` (absolute paths: mount points) are listed but not entered.
    """
    found: list[tuple[Path, os.stat_result]] = []
    pending = [Path()]
    while pending:
        relative = pending.pop()
        with os.scandir(root / relative) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                found.append((relative / entry.name, st))
                if stat.S_ISDIR(st.st_mode) and root / relative / entry.name not in skip:
                    pending.append(relative / entry.name)
    found.sort(key=lambda item: os.fsencode(item[0]))
    return found


def copy_skeleton(skeleton: Path, target: Path, guest: GuestAccount) -> None:
    """Copy ``skeleton`` to the new directory ``target``, owned by the guest, modes kept.

    Symbolic links are copied as links; FIFOs, sockets and devices have no place in a home and
    are skipped. ``target`` must be somewhere the guest cannot reach yet.
    """
    os.mkdir(target, HOME_MODE)
    os.chown(target, guest.uid, guest.gid)
    for relative, st in tree_entries(skeleton):
        source, copy = skeleton / relative, target / relative
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(source), copy)
        elif stat.S_ISDIR(st.st_mode):
            os.mkdir(copy, 0o700)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(source, copy, follow_symlinks=False)
        else:
            continue
        # chown first: it clears set-uid bits, so a skeleton cannot hand out a set-uid program.
        os.chown(copy, guest.uid, guest.gid, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(copy, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
            os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))


class SpareHome:
    """The spare home of one guest: built from ``skeleton``, swapped in by :meth:`swap`."""

    def __init__(self, guest: GuestAccount, skeleton: Path) -> None:
        self.guest = guest
        self.skeleton = Path(skeleton)
        self.area = guest.home.parent / f"{SPARE_PREFIX}{guest.name}"
        self.spare = self.area / "home"
        self._fingerprint_file = self.area / "skeleton.fingerprint"
        # A background prepare() and a reset's swap() must not build the same spare at once.
        self._lock = threading.Lock()

    def is_ready(self) -> bool:
        """A spare exists and was built from the skeleton as it is now."""
        try:
            built_from = self._fingerprint_file.read_text(encoding="ascii")
        except FileNotFoundError:
            return False
        return self.spare.is_dir() and built_from == skeleton_fingerprint(self.skeleton, self.guest)

    def prepare(self) -> bool:
        """Build the spare if there is none or it is stale; True if one was built."""
        with self._lock:
            return self._prepare()

    def swap(self, report: WipeReport) -> Path | None:
        """Put a fresh home in place; the trash directory now holding the old one, if any.

        Refuses (:class:`HomeError`) when the home is a mount point: whatever is mounted must be
        unmounted first (:mod:`agent.pc.media`), never moved nor wiped.
        """
        with self._lock:
            if self._prepare():
                report.did("built the fresh home on the spot (no spare was ready)")
            parent = self.guest.home.parent
            name = os.fsencode(self.guest.home.name)
            parent_fd = os.open(parent, _OPEN_DIR)
            area_fd = os.open(self.area, _OPEN_DIR)
            try:
                trash = self._take_old_home(parent_fd, name)
                self._fingerprint_file.unlink()
                try:
                    os.rename(b"home", name, src_dir_fd=area_fd, dst_dir_fd=parent_fd)
                except OSError as exc:
                    raise HomeError(f"cannot put the fresh home in place: {exc.strerror}") from exc
            finally:
                os.close(area_fd)
                os.close(parent_fd)
            report.did("swapped in a fresh home")
            return trash

    def discard(self, report: WipeReport) -> None:
        """Delete the spare area (the guest is being removed from this PC, or a test ends)."""
        with self._lock:
            if self.area.exists():
                TreeWiper(report, "home").wipe_tree(self.area)

    # -- inside the lock -------------------------------------------------------------------------

    def _prepare(self) -> bool:
        self._check_area()
        fingerprint = skeleton_fingerprint(self.skeleton, self.guest)
        try:
            if self._fingerprint_file.read_text(encoding="ascii") == fingerprint:
                return False
        except FileNotFoundError:
            pass
        # A stale spare, or one half-built when the agent stopped: it never held a resident's
        # data, so it is simply deleted.
        report = WipeReport()
        for stale in (self.spare, self.area / "building"):
            if os.path.lexists(stale):
                TreeWiper(report, "home").wipe_tree(stale)
        if report.leftovers:
            left = report.leftovers[0]
            raise HomeError(f"cannot delete the old spare home: {left.path}: {left.reason}")
        self._fingerprint_file.unlink(missing_ok=True)
        copy_skeleton(self.skeleton, self.area / "building", self.guest)
        os.rename(self.area / "building", self.spare)
        self._fingerprint_file.write_text(fingerprint, encoding="ascii")
        return True

    def _check_area(self) -> None:
        """Create the root-only area, or make sure the one there is ours.

        The home's parent is root's (``/home``), so nobody else can have made it; if it is not a
        real root-owned 0700 directory, someone tampered with this PC and we stop.
        """
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.area, 0o700)
        st = os.lstat(self.area)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or stat.S_IMODE(st.st_mode) != 0o700:
            raise HomeError(
                f"{self.area} is not a root-only directory (a link, or not root's, or not 0700):"
                " remove it and reset again"
            )

    def _take_old_home(self, parent_fd: int, name: bytes) -> Path | None:
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(st.st_mode):
            home_fd = os.open(name, _OPEN_DIR, dir_fd=parent_fd)
            try:
                mounted = os.fstat(home_fd).st_dev != os.fstat(parent_fd).st_dev or (
                    mount_id(home_fd) != mount_id(parent_fd)
                )
            finally:
                os.close(home_fd)
            if mounted:
                raise HomeError(
                    f"{self.guest.home} is a mount point: unmount it before the reset"
                    " (it is never moved nor wiped)"
                )
        trash = Trash.create(self.guest.home.parent)
        try:
            trash.take(parent_fd, name)
        except OSError as exc:
            os.rmdir(trash.path)
            raise HomeError(f"cannot move the old home away: {exc.strerror}") from exc
        return trash.path
