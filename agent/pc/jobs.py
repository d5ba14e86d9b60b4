"""The guest's scheduled jobs: its crontab and its at jobs, removed at every reset.

A crontab or an at job is the simplest way for a resident to outlive the session: a line
``@reboot`` or ``*/5 * * * * curl …`` would run as the guest during the next resident's session
(reading their files, their screen, their keystrokes) and ending processes does not remove it.

Commands, all run as root (the agent): ``crontab -r -u NAME`` and ``atq`` / ``atrm ID …``. The
spools are then checked directly, so a job is not missed when a tool is absent or fails: the
crontab is the file ``/var/spool/cron/crontabs/NAME``, at jobs are the files in
``/var/spool/cron/atjobs`` owned by the guest's uid (at writes each job as its owner), and the
output of a job that was running sits in ``/var/spool/cron/atspool``, also owned by the guest.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.actions import run_quiet
from agent.pc.guest import FIRST_REGULAR_UID, GuestAccount
from agent.pc.report import Leftover, WipeReport

CRONTABS = Path("/var/spool/cron/crontabs")
AT_JOBS = Path("/var/spool/cron/atjobs")
AT_SPOOL = Path("/var/spool/cron/atspool")
TOOL_TIMEOUT_S = 15


def remove_scheduled_jobs(
    guest: GuestAccount,
    report: WipeReport,
    *,
    crontabs: Path = CRONTABS,
    at_jobs: Path = AT_JOBS,
    at_spool: Path = AT_SPOOL,
) -> None:
    """Remove the guest's crontab and every at job of the guest (pending or running)."""
    _check(guest)
    _remove_crontab(guest, report, crontabs)
    _remove_at_jobs(guest, report, at_jobs, at_spool)
    for leftover in scheduled_jobs_left(
        guest, crontabs=crontabs, at_jobs=at_jobs, at_spool=at_spool
    ):
        report.left(leftover.area, leftover.path, leftover.reason)


def scheduled_jobs_left(
    guest: GuestAccount,
    *,
    crontabs: Path = CRONTABS,
    at_jobs: Path = AT_JOBS,
    at_spool: Path = AT_SPOOL,
) -> list[Leftover]:
    """The guest's crontab and at job files still in the spools, read directly."""
    _check(guest)
    left = []
    crontab = crontabs / guest.name
    if crontab.exists():
        left.append(Leftover("cron", str(crontab), "crontab still installed"))
    for path in _owned_files(at_jobs, guest.uid):
        left.append(Leftover("at", str(path), "at job still queued"))
    for path in _owned_files(at_spool, guest.uid):
        left.append(Leftover("at", str(path), "at job output still spooled"))
    return left


def _remove_crontab(guest: GuestAccount, report: WipeReport, crontabs: Path) -> None:
    crontab = crontabs / guest.name
    if not crontab.exists():
        return
    # crontab(1) also tells cron to reload; exit 1 "no crontab for NAME" is fine.
    _run(["crontab", "-r", "-u", guest.name])
    if crontab.exists():
        # crontab missing or broken: the spool file is what cron reads, delete it directly
        # (cron notices the spool directory's new mtime within a minute).
        crontab.unlink(missing_ok=True)
    report.did("removed the guest's crontab")


def _remove_at_jobs(guest: GuestAccount, report: WipeReport, at_jobs: Path, at_spool: Path) -> None:
    queued = _at_jobs_listed(guest)
    if queued:
        _run(["atrm", "--", *queued])
    # Whatever atq did not show or atrm could not remove (at not installed, a running job).
    stray = _owned_files(at_jobs, guest.uid) + _owned_files(at_spool, guest.uid)
    for path in stray:
        path.unlink(missing_ok=True)
    count = max(len(queued), len(_owned_job_files(stray, at_jobs)))
    if count:
        report.did(f"removed {count} at jobs")


def _at_jobs_listed(guest: GuestAccount) -> list[str]:
    """Ids of the guest's jobs as ``atq`` run by root lists them (it shows every user's)."""
    output = _run(["atq"])
    ids = []
    # "7\tSun Nov 22 11:30:00 2026 a bgtest-1a2b3c": id, date, queue, owner.
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[-1] == guest.name and fields[0].isdigit():
            ids.append(fields[0])
    return ids


def _owned_job_files(paths: list[Path], at_jobs: Path) -> list[Path]:
    return [path for path in paths if path.parent == at_jobs]


def _owned_files(directory: Path, uid: int) -> list[Path]:
    """Regular files directly in ``directory`` owned by ``uid`` (lstat: links are not followed)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:  # at not installed: no spool
        return []
    owned = []
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if info.st_uid == uid and entry.is_file(follow_symlinks=False):
            owned.append(Path(entry.path))
    return owned


def _run(argv: list[str]) -> str:
    """Run a cron/at tool as root, no shell; a missing tool or a failure yields its output only.

    The spools are checked after every command, so a failure here shows up as a leftover.
    """
    done = run_quiet(argv, timeout_s=TOOL_TIMEOUT_S)
    return done.stdout if done is not None else ""


def _check(guest: GuestAccount) -> None:
    if guest.uid < FIRST_REGULAR_UID or "/" in guest.name or guest.name in ("", ".", ".."):
        raise ValueError(f"refusing to remove the scheduled jobs of {guest.name!r}: not a guest")
