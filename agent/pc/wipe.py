"""The safe tree deleter behind the privacy wipe, and the root-only trash it empties.

Everything the guest left is hostile input: the guest chose every name, every link and every
directory, and may have raced us while we worked. So the walk holds directory file descriptors and
works *relative to them* (``openat``/``fstatat``/``unlinkat``), never re-resolving a path:

* a symbolic link is unlinked, never followed (``O_NOFOLLOW`` on every open: a link swapped in for
  a directory between our ``lstat`` and our ``open`` fails with ``ELOOP``/``ENOTDIR``, and the link
  itself is then unlinked) — defends against ``ln -s /etc ~/x``;
* a directory on another mount is never entered: neither another filesystem (``st_dev``) nor a
  bind mount of this same filesystem, which has the same ``st_dev`` and is only told apart by its
  mount id — defends against ``mount --bind /srv/library ~/x`` (or a USB stick still mounted);
* files are unlinked, never truncated, overwritten or shredded, so a file the guest hard-linked
  from elsewhere keeps its other names and its content;
* what cannot be deleted (``chattr +i``/``+a``, a busy mount point …) is reported with the reason
  as a :class:`~agent.pc.report.Leftover`, never silently left, and the walk goes on.

The walk is iterative (a deep tree cannot hit Python's recursion limit) and keeps at most
:data:`MAX_OPEN_DIRS` descriptors open, climbing back through ``..`` checked against the directory
it must be (device and inode), like GNU ``rm``'s fts does.

Bytes counted in the report are ``st_blocks * 512`` of files whose last name we removed: the disk
space the wipe actually gave back (a hard-linked file's space is freed only with its last name).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agent.pc.report import WipeReport

MAX_OPEN_DIRS = 64
TRASH_PREFIX = ".borne-wipe-"
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# <linux/fs.h>: FS_IOC_GETFLAGS and the two attributes that make a file undeletable.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x10
_FS_APPEND_FL = 0x20

ANOTHER_FILESYSTEM = "another filesystem is mounted here: not entered"


class WipeError(Exception):
    """A wipe could not even start (the tree's parent is missing, the trash is not root's …)."""


@dataclass(frozen=True)
class Place:
    """Where a directory lives: the mount it must stay on, and its identity."""

    dev: int
    ino: int
    mount_id: int


def mount_id(fd: int) -> int:
    """The id of the mount ``fd`` is on (``/proc/self/fdinfo``, Linux 3.15+).

    ``st_dev`` alone misses a bind mount of the same filesystem; the mount id does not.
    """
    with open(f"/proc/self/fdinfo/{fd}", "rb") as info:
        for line in info:
            if line.startswith(b"mnt_id:"):
                return int(line.split()[1])
    raise WipeError("this kernel does not show mount ids in /proc/self/fdinfo")


def place_of(fd: int) -> Place:
    st = os.fstat(fd)
    return Place(st.st_dev, st.st_ino, mount_id(fd))


@dataclass
class _Dir:
    """One directory of the walk: its name in its parent, and what is left to do in it."""

    name: bytes
    shown: bytes  # the full path, for reports only: never used to reach the directory
    place: Place
    fd: int | None
    subdirs: list[bytes] = field(default_factory=list)
    incomplete: bool = False  # something below could not be deleted: do not rmdir, say it once
    owned: bool = True  # False for the caller's descriptor, which the walk must not close


class TreeWiper:
    """Deletes trees for one :class:`WipeReport`; ``area`` names where leftovers are reported.

    :meth:`open_directory` is the one place a directory entry is opened; tests override it to
    swap a symbolic link in just before, as an attacker racing the wipe would.
    """

    def __init__(self, report: WipeReport, area: str, max_open_dirs: int = MAX_OPEN_DIRS) -> None:
        if max_open_dirs < 2:
            raise ValueError("max_open_dirs must be at least 2")
        self.report = report
        self.area = area
        self.max_open_dirs = max_open_dirs

    # -- entry points ---------------------------------------------------------------------------

    def wipe_tree(self, path: Path) -> None:
        """Delete ``path`` and everything below it (``path`` itself may be a file or a link).

        The parent of ``path`` is trusted (the agent's own trash, a root-owned directory); from
        ``path`` down nothing is.
        """
        path = Path(path)
        if not path.is_absolute() or path.name in ("", ".", ".."):
            # "/", "." or "x/..": never a tree we were asked to wipe, always a mistake.
            raise WipeError(f"refusing to wipe {str(path)!r}: not an absolute path to one entry")
        parent = path.parent
        try:
            parent_fd = os.open(parent, _OPEN_DIR)
        except OSError as exc:
            raise WipeError(f"cannot open {parent}: {exc.strerror}") from exc
        try:
            self.wipe_entry(parent_fd, os.fsencode(path.name), os.fsencode(path))
        finally:
            os.close(parent_fd)

    def empty_directory(self, path: Path) -> None:
        """Delete everything inside ``path`` but keep ``path`` (e.g. ``/run/user/<uid>``).

        ``path`` may itself be a mount point (a per-user tmpfs): its own mount is the one the
        walk stays on.
        """
        try:
            fd = os.open(path, _OPEN_DIR)
        except OSError as exc:
            raise WipeError(f"cannot open {path}: {exc.strerror}") from exc
        top = _Dir(os.fsencode(Path(path).name), os.fsencode(path), place_of(fd), fd)
        try:
            self._delete_files(top)
        except OSError as exc:
            os.close(fd)
            raise WipeError(f"cannot list {path}: {exc.strerror}") from exc
        self._walk(top, keep_top=True)

    def wipe_entry(self, parent_fd: int, name: bytes, shown: bytes) -> None:
        """Delete the entry ``name`` of the open directory ``parent_fd``, and all below it.

        The entry stays on the mount of ``parent_fd``: if it is a mount point it is not entered.
        """
        base = _Dir(b"", b"", place_of(parent_fd), parent_fd, owned=False)
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(st.st_mode):
            self._remove_file(parent_fd, name, shown, st, base)
            return
        top = self._enter(base, name, shown)
        if top is not None:
            self._walk(top, keep_top=False, base=base)

    # -- the walk -------------------------------------------------------------------------------

    def _walk(self, top: _Dir, *, keep_top: bool, base: _Dir | None = None) -> None:
        stack = [top]
        try:
            while stack:
                current = stack[-1]
                if current.subdirs:
                    name = current.subdirs.pop()
                    child = self._enter(current, name, current.shown + b"/" + name)
                    if child is not None:
                        stack.append(child)
                        self._limit_open(stack)
                    continue
                stack.pop()
                parent = stack[-1] if stack else base
                if parent is not None and not self._climb_to(parent, current):
                    self._close(current)
                    return
                self._close(current)
                if current is top and keep_top:
                    continue
                if parent is None:
                    continue
                if current.incomplete:
                    parent.incomplete = True
                    continue
                self._remove_dir(parent, current)
        finally:
            for left in stack:
                self._close(left)

    def open_directory(self, parent_fd: int, name: bytes) -> int:
        """``openat(parent_fd, name, O_DIRECTORY|O_NOFOLLOW)``: the walk's only way in."""
        return os.open(name, _OPEN_DIR, dir_fd=parent_fd)

    def _enter(self, parent: _Dir, name: bytes, shown: bytes) -> _Dir | None:
        """Open, check and list the directory ``name``; delete its files. None if not entered."""
        assert parent.fd is not None
        try:
            fd = self.open_directory(parent.fd, name)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                # Swapped for a link or a file since we looked: delete that, follow nothing.
                self._remove_swapped(parent, name, shown)
            elif exc.errno != errno.ENOENT:
                self._leftover(parent, shown, f"cannot open: {exc.strerror}")
            return None
        place = place_of(fd)
        if place.dev != parent.place.dev or place.mount_id != parent.place.mount_id:
            os.close(fd)
            self._leftover(parent, shown, ANOTHER_FILESYSTEM)
            return None
        directory = _Dir(name, shown, place, fd)
        try:
            self._delete_files(directory)
        except OSError as exc:
            self._leftover(parent, shown, f"cannot list: {exc.strerror}")
            directory.incomplete = True
        return directory

    def _delete_files(self, directory: _Dir) -> None:
        assert directory.fd is not None
        # The whole listing first: deleting while reading a directory can skip entries.
        with os.scandir(directory.fd) as entries:
            names = [os.fsencode(entry.name) for entry in entries]
        for name in names:
            shown = directory.shown + b"/" + name
            try:
                st = os.stat(name, dir_fd=directory.fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                directory.subdirs.append(name)
            else:
                self._remove_file(directory.fd, name, shown, st, directory)

    def _remove_file(
        self, dir_fd: int, name: bytes, shown: bytes, st: os.stat_result, directory: _Dir
    ) -> None:
        try:
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return
        except OSError as exc:
            self._leftover(directory, shown, _why_undeletable(dir_fd, name, st, exc))
            return
        # Only the last name of a file gives its space back (a hard link keeps the original).
        self.report.removed(1, st.st_blocks * 512 if st.st_nlink <= 1 else 0)

    def _remove_swapped(self, parent: _Dir, name: bytes, shown: bytes) -> None:
        assert parent.fd is not None
        try:
            st = os.stat(name, dir_fd=parent.fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):  # swapped back and forth: not worth a second round
            self._leftover(parent, shown, "changed while being wiped")
            return
        self._remove_file(parent.fd, name, shown, st, parent)

    def _remove_dir(self, parent: _Dir, directory: _Dir) -> None:
        assert parent.fd is not None
        try:
            os.rmdir(directory.name, dir_fd=parent.fd)
        except FileNotFoundError:
            return
        except OSError as exc:
            try:
                st = os.stat(directory.name, dir_fd=parent.fd, follow_symlinks=False)
            except FileNotFoundError:
                return
            reason = _why_undeletable(parent.fd, directory.name, st, exc)
            self._leftover(parent, directory.shown, reason)
            return
        self.report.removed(1, 0)

    def _leftover(self, directory: _Dir, shown: bytes, reason: str) -> None:
        directory.incomplete = True
        self.report.left(self.area, shown, reason)

    # -- bounded descriptors --------------------------------------------------------------------

    def _limit_open(self, stack: list[_Dir]) -> None:
        if len(stack) > self.max_open_dirs:
            self._close(stack[-self.max_open_dirs - 1])

    def _climb_to(self, parent: _Dir, child: _Dir) -> bool:
        """Make sure ``parent`` has a descriptor, reopening it as the child's ``..`` if closed.

        The ``..`` is checked to be the very directory we came from: if the tree was moved
        meanwhile, the walk stops rather than delete in some other place.
        """
        if parent.fd is not None:
            return True
        assert child.fd is not None
        fd = os.open(b"..", _OPEN_DIR, dir_fd=child.fd)
        if place_of(fd) != parent.place:
            os.close(fd)
            self.report.left(self.area, parent.shown, "moved while being wiped: wipe stopped")
            return False
        parent.fd = fd
        return True

    @staticmethod
    def _close(directory: _Dir) -> None:
        if directory.fd is not None and directory.owned:
            os.close(directory.fd)
            directory.fd = None


def _why_undeletable(dir_fd: int, name: bytes, st: os.stat_result, exc: OSError) -> str:
    """A reason staff can act on: which attribute, on the entry or on its directory."""
    if exc.errno == errno.EPERM:
        flags = _attributes_of(name, st, dir_fd)
        if flags & _FS_IMMUTABLE_FL:
            return "immutable (chattr +i): remove the attribute with chattr -i, then reset again"
        if flags & _FS_APPEND_FL:
            return "append-only (chattr +a): remove the attribute with chattr -a, then reset again"
        parent_flags = _flags(dir_fd)
        if parent_flags & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
            return "its directory is immutable or append-only (chattr +i/+a; see lsattr -d)"
    if exc.errno == errno.EBUSY:
        return "busy: something is mounted on it"
    return f"cannot delete: {exc.strerror}"


def _attributes_of(name: bytes, st: os.stat_result, dir_fd: int) -> int:
    # Only regular files and directories are opened to read their attributes: opening a FIFO
    # or a device could block or have side effects.
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return 0
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOATIME
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return 0
    try:
        return _flags(fd)
    finally:
        os.close(fd)


def _flags(fd: int) -> int:
    try:
        buf = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8)
    except OSError:
        return 0
    return int(struct.unpack("i", buf[:4])[0])


# -- trash --------------------------------------------------------------------------------------


class Trash:
    """A root-only (0700) directory beside what is moved into it, on the same filesystem.

    Moving a tree into it is one ``rename``: instant whatever its size, and from that moment the
    next resident cannot reach it. Its name is random and made with ``mkdir`` (which never
    follows a link and fails if the name exists), so a guest who pre-creates ``/tmp/.borne-wipe-…``
    cannot make us use their directory.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._slots = 0

    @classmethod
    def create(cls, parent: Path) -> Trash:
        return cls(Path(tempfile.mkdtemp(prefix=TRASH_PREFIX, dir=parent)))

    def take(self, parent_fd: int, name: bytes) -> Path:
        """Move the entry ``name`` of ``parent_fd`` into the trash; its new path.

        Each entry gets its own numbered slot, so two entries with the same name never collide
        and names keep their full length.
        """
        trash_fd = os.open(self.path, _OPEN_DIR)
        try:
            slot = str(self._slots).encode()
            self._slots += 1
            os.mkdir(slot, 0o700, dir_fd=trash_fd)
            slot_fd = os.open(slot, _OPEN_DIR, dir_fd=trash_fd)
            try:
                os.rename(name, name, src_dir_fd=parent_fd, dst_dir_fd=slot_fd)
            except OSError:
                os.rmdir(slot, dir_fd=trash_fd)
                raise
            finally:
                os.close(slot_fd)
        finally:
            os.close(trash_fd)
        return self.path / os.fsdecode(slot) / os.fsdecode(name)


def trash_left_in(parent: Path) -> list[Path]:
    """Trash directories of earlier wipes under ``parent`` (an interrupted run, or leftovers).

    Only root-owned, 0700 real directories count: a guest's look-alike is the guest's own file.
    """
    found = []
    try:
        entries = list(os.scandir(parent))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.name.startswith(TRASH_PREFIX):
            continue
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o700:
            found.append(Path(entry.path))
    return found


def wipe_trash(trash: Path, report: WipeReport, area: str) -> None:
    """Delete a trash directory and all in it; what cannot be deleted goes into ``report``."""
    TreeWiper(report, area).wipe_tree(trash)
