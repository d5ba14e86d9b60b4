"""The guest's own systemd journal: removed at each reset, since reading it is what leaks.

journald keeps the messages of each regular user's processes in a journal file of their own
(``SplitMode=uid``, the default): ``<journal dir>/<machine id>/user-<uid>.journal`` and its
archived siblings ``user-<uid>@….journal`` (``….journal~`` when journald found one dirty). A
desktop's programs write there what they open, print or fail to open — file names, web sites,
a printer's job titles — and anyone in the ``adm`` or ``systemd-journal`` group reads them with
``journalctl _UID=<uid>``. Persistent journals live under ``/var/log/journal``, volatile ones
under ``/run/log/journal`` (where journald does not split by user, but a PC switched between
the two may keep old files); a journal namespace is a sibling directory ``<machine id>.<name>``.

Files are unlinked, never opened: a name is matched exactly (``user-1001`` never matches
``user-10010``), and a link of that name is removed, never followed. journald may still hold
the active file open for the next session of the same uid: its later lines then go to the
removed file, invisible to ``journalctl``, until journald rotates or restarts. Messages *about*
the guest that journald files under the system (logind's "New session of user …") stay in
``system.journal``: they hold times, not contents.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from agent.pc.guest import FIRST_REGULAR_UID, GuestAccount
from agent.pc.report import Leftover, WipeReport

JOURNAL_DIRS = (Path("/var/log/journal"), Path("/run/log/journal"))
AREA = "journal"


def remove_guest_journal(
    guest: GuestAccount, report: WipeReport, journal_dirs: tuple[Path, ...] = JOURNAL_DIRS
) -> None:
    """Unlink every journal file of the guest's uid, persistent and volatile."""
    _check(guest)
    removed = 0
    for path in guest_journal_files(guest, journal_dirs):
        try:
            size = os.lstat(path).st_blocks * 512
            os.unlink(path)
        except FileNotFoundError:
            continue  # journald archived or removed it meanwhile
        except OSError as exc:
            report.left(AREA, str(path), f"not removed: {exc.strerror}")
            continue
        report.removed(1, size)
        removed += 1
    if removed:
        report.did(f"removed {removed} journal file(s) of the guest")


def guest_journal_left(
    guest: GuestAccount, journal_dirs: tuple[Path, ...] = JOURNAL_DIRS
) -> list[Leftover]:
    """The guest's journal files still there (what ``journalctl _UID=`` would show)."""
    _check(guest)
    return [
        Leftover(AREA, str(path), "the guest's own journal is still here")
        for path in guest_journal_files(guest, journal_dirs)
    ]


def guest_journal_files(guest: GuestAccount, journal_dirs: tuple[Path, ...]) -> list[Path]:
    """``user-<uid>.journal`` and its archives, in every machine's (and namespace's) directory."""
    found = []
    for journal_dir in journal_dirs:
        for machine in _real_subdirs(journal_dir):
            with os.scandir(machine) as entries:
                found += [
                    Path(entry.path)
                    for entry in entries
                    if _is_guest_journal(entry.name, guest.uid)
                    and not stat.S_ISDIR(entry.stat(follow_symlinks=False).st_mode)
                ]
    return sorted(found)


def _is_guest_journal(name: str, uid: int) -> bool:
    active = f"user-{uid}.journal"
    archived = f"user-{uid}@"
    archive = name.startswith(archived) and name.endswith((".journal", ".journal~"))
    return name == active or archive


def _real_subdirs(directory: Path) -> list[Path]:
    """Subdirectories that are directories themselves, not links to somewhere else."""
    try:
        with os.scandir(directory) as entries:
            return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _check(guest: GuestAccount) -> None:
    # System accounts' journals are the PC's own logs, never a resident's.
    if guest.uid < FIRST_REGULAR_UID:
        raise ValueError(f"refusing to remove the journal of uid {guest.uid}: not a guest")
