"""The proof after a reset: what of the guest is still anywhere it should not be.

Two moments, because the display manager logs the guest in again as soon as the PC is ready:

* :func:`scan_live_areas` runs *before* the PC is declared ready — the new home against the
  skeleton, the temporary dirs, and every other area's ``*_left`` check (processes, jobs, print
  jobs, mounts, connections). Run later, it would mistake the next resident's new session for
  leftovers of the last one.
* :func:`trash_leftovers` runs after the background deletion: the old data is in root-only trash
  directories that nobody logs into, so checking them late is safe.
"""

from __future__ import annotations

import filecmp
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from agent.pc.guest import GuestAccount
from agent.pc.home import tree_entries
from agent.pc.media import read_mount_table
from agent.pc.report import Leftover, printable_path
from agent.pc.tmpfiles import TempAreas, guest_temp_entries
from agent.pc.wipe import trash_left_in

AreaCheck = Callable[[GuestAccount], list[Leftover]]
MOUNTINFO = Path("/proc/self/mountinfo")


def mount_points_under(directory: Path, mountinfo: Path = MOUNTINFO) -> list[Path]:
    """Mount points at or below ``directory``."""
    points = (Path(mount.path) for mount in read_mount_table(mountinfo))
    return [point for point in points if point == directory or directory in point.parents]


# What the display manager itself writes in the guest's home, outside any session: LightDM,
# ending the last session, rewrites ~/.Xauthority (its X cookies, none of them the resident's
# data) in the home that has just been swapped in, and writes it again at the next login. Seen
# as a leftover, it locked the guest login after every reset on a default LightDM.
DISPLAY_MANAGER_FILES = frozenset({Path(".Xauthority")})


def home_leftovers(guest: GuestAccount, skeleton: Path) -> list[Leftover]:
    """Whatever in the home is not exactly the skeleton: extra, changed, or mounted there
    (the display manager's own files aside, :data:`DISPLAY_MANAGER_FILES`)."""
    home = guest.home
    mounts = frozenset(mount_points_under(home))
    left = [Leftover("home", printable_path(str(p)), "something is mounted here") for p in mounts]
    expected = {relative: st for relative, st in tree_entries(skeleton)}
    for relative, st in tree_entries(home, skip=mounts):
        if Path(relative) in DISPLAY_MANAGER_FILES and stat.S_ISREG(st.st_mode):
            continue
        path = home / relative
        reason = _differs(skeleton / relative, expected.get(relative), path, st)
        if reason and path not in mounts:
            left.append(Leftover("home", printable_path(str(path)), reason))
    return left


def _differs(
    source: Path, wanted: os.stat_result | None, path: Path, st: os.stat_result
) -> str | None:
    if wanted is None:
        return "not in the skeleton"
    if stat.S_IFMT(wanted.st_mode) != stat.S_IFMT(st.st_mode):
        return "not the same kind of file as in the skeleton"
    if stat.S_ISLNK(st.st_mode):
        return None if os.readlink(source) == os.readlink(path) else "link changed"
    if _mode(wanted) != _mode(st):
        return "permissions changed"
    if stat.S_ISREG(st.st_mode) and not filecmp.cmp(source, path, shallow=False):
        return "content changed"
    return None


def _mode(st: os.stat_result) -> int:
    return stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID)


def temp_leftovers(guest: GuestAccount, areas: TempAreas) -> list[Leftover]:
    """The guest's entries still in the temporary dirs, and a non-empty runtime dir."""
    left = [
        Leftover("tmp", printable_path(entry.path), "a file of the guest is still here")
        for temp_dir in areas.dirs
        for entry in guest_temp_entries(guest, temp_dir)
    ]
    runtime = areas.runtime_dir(guest)
    if runtime.is_dir() and not runtime.is_symlink() and any(runtime.iterdir()):
        left.append(Leftover("tmp", printable_path(str(runtime)), "the runtime dir is not empty"))
    return left


def scan_live_areas(
    guest: GuestAccount, skeleton: Path, areas: TempAreas, checks: Sequence[AreaCheck]
) -> list[Leftover]:
    """Everything of the guest still reachable on the PC: run before it is declared ready."""
    left = home_leftovers(guest, skeleton) + temp_leftovers(guest, areas)
    for check in checks:
        try:
            left += check(guest)
        except Exception as exc:  # a broken check must not pass for a clean one
            name = getattr(check, "__name__", "a check")
            left.append(Leftover("scan", name, f"the check failed: {exc}"))
    return left


def trash_leftovers(parents: Iterable[Path], already: Sequence[Leftover]) -> list[Leftover]:
    """Trash directories still there after the deletion, unless already reported inside."""
    reported = [leftover.path for leftover in already]
    left = []
    for parent in parents:
        for trash in trash_left_in(parent):
            shown = printable_path(str(trash))
            if not any(path == shown or path.startswith(shown + "/") for path in reported):
                left.append(Leftover("trash", shown, "not deleted"))
    return left
