"""The guest's processes: frozen at the start of a reset, ended before the next resident sits down.

A resident can leave work running that outlives the desktop session: a ``nohup`` download, a
daemon started with ``setsid`` (double fork, no terminal, parent is init), a loop that forks as
fast as it can, a process that ignores SIGTERM and SIGHUP. Any of them could keep writing into
the next resident's home, read what the next resident types into a shared file, or hold a file
open so the wipe misses it. So:

1. :func:`freeze_guest_processes` stops them all with **one** ``kill(-1, SIGSTOP)`` sent *as the
   guest*: the kernel signals every process the guest may signal (those whose real or saved uid
   is the guest's) in a single pass, so a process that forks in a loop cannot slip a child
   between a listing of /proc and a kill. Stopped processes cannot write, fork or run while the
   reset swaps the home.
2. :func:`end_guest_processes` sends SIGKILL the same way, then sweeps /proc as root for any
   straggler (a process that was not stopped because it changed uid, or a hostile process that
   killed the helper before it signalled): root signals each one through a pidfd, so a pid that
   was reused by someone else's new process in the meantime is never hit.

A process counts as the guest's when its real, effective or saved uid is the guest's (a
set-uid program the guest started keeps the guest's real uid). Zombies are not counted: they run
nothing and hold no files; their parent (often init) reaps them.

With systemd-logind, ``loginctl terminate-user`` first ends the guest's sessions and the whole
``user-UID.slice`` cgroup; without it (CI, containers) the steps above do the whole job.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import time
import warnings
from pathlib import Path
from typing import NamedTuple

from agent.actions import run_quiet
from agent.pc import message_queues
from agent.pc.guest import FIRST_REGULAR_UID, GuestAccount
from agent.pc.report import Leftover, WipeReport

PROC = Path("/proc")
# Present only when systemd is PID 1 (sd_booted(3)); logind then tracks the guest's sessions.
SYSTEMD_RUNTIME = Path("/run/systemd/system")
END_DEADLINE_S = 5.0
HELPER_TIMEOUT_S = 2.0
LOGINCTL_TIMEOUT_S = 10
SWEEP_PAUSE_S = 0.02
STOP_WAIT_S = 0.5
STOP_POLL_S = 0.002


def freeze_guest_processes(guest: GuestAccount) -> frozenset[int]:
    """Stop every process of the guest at once (SIGSTOP) and return the pids that were running.

    ``kill`` returns once the signal is queued; each process stops when the kernel next runs
    it, which on a busy PC can take a few milliseconds. The home is swapped only after, so this
    waits until none runs code of its own any more (:attr:`GuestProcess.frozen`), for
    :data:`STOP_WAIT_S` at most; the SIGKILL that follows deals with any straggler.
    """
    _check(guest)
    _signal_all_as_guest(guest, signal.SIGSTOP)
    deadline = time.monotonic() + STOP_WAIT_S
    while True:
        running = _guest_processes(guest.uid)
        if all(p.frozen for p in running) or time.monotonic() >= deadline:
            return frozenset(p.pid for p in running)
        time.sleep(STOP_POLL_S)


def end_guest_processes(guest: GuestAccount, report: WipeReport) -> None:
    """SIGKILL every process of the guest until none is left or :data:`END_DEADLINE_S` passed."""
    _check(guest)
    _terminate_logind_user(guest)
    waiting_parents = _other_users_parents(guest.uid)
    seen: set[int] = set()
    deadline = time.monotonic() + END_DEADLINE_S
    while True:
        running = _guest_processes(guest.uid)
        if not running or time.monotonic() >= deadline:
            break
        seen.update(p.pid for p in running)
        _signal_all_as_guest(guest, signal.SIGKILL)
        for process in running:
            _kill_if_still_guest(process.pid, guest.uid)
        time.sleep(SWEEP_PAUSE_S)
    report.did(f"ended {len(seen)} processes")
    _resume_stopped(waiting_parents)
    _remove_ipc(guest, report)
    message_queues.remove_guest_queues(guest, report)
    for leftover in guest_processes_left(guest):
        report.left(leftover.area, leftover.path, leftover.reason)


def guest_processes_left(guest: GuestAccount) -> list[Leftover]:
    """Every live process of the guest, named by its command name only.

    Never its arguments: ``firefox https://…`` or ``libreoffice lettre-caf.odt`` would carry a
    resident's data into the report sent to the controller.
    """
    _check(guest)
    return (
        [
            Leftover("processes", comm, f"process {pid} still running")
            for pid, comm, _ in _guest_processes(guest.uid)
        ]
        + [
            Leftover("ipc", f"{kind} {ident}", "System V IPC object of the guest still there")
            for kind, ident in _guest_ipc(guest.uid)
        ]
        + message_queues.guest_queues_left(guest)
    )


# -- the signals --------------------------------------------------------------------------------


def _signal_all_as_guest(guest: GuestAccount, signum: signal.Signals) -> None:
    """``kill(-1, signum)`` from a child that became the guest: every guest process in one pass.

    kill(2) with pid -1 reaches every process the caller may signal except itself and init. The
    child drops its groups, gid then uid (that order: once the uid is dropped, it could no
    longer change its gid), so it holds no privilege root has; having changed its credentials,
    the kernel also marks it non-dumpable, so the guest's processes cannot ptrace it.
    """
    with warnings.catch_warnings():
        # Python 3.12 warns about fork() in a threaded process: the child below only makes
        # system calls (no lock, no allocation that another thread may hold) and then _exit()s.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: whatever happens, it must end here and never return
        try:
            os.setgroups([])
            os.setgid(guest.gid)
            os.setuid(guest.uid)
            os.kill(-1, signum)
            os._exit(0)
        finally:
            os._exit(1)
    # A hostile guest process can kill or stop the child (it runs as the guest): it is given
    # HELPER_TIMEOUT_S, then killed by root. The root sweep in end_guest_processes is what
    # guarantees the end; this is the fast path, and it must never hang the reset.
    _reap_within(pid, HELPER_TIMEOUT_S)


def _reap_within(pid: int, timeout_s: float) -> None:
    """Wait for our child ``pid`` at most ``timeout_s``, then SIGKILL it (a stopped child never
    exits: waitpid alone would wait forever)."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # already gone
        os.waitpid(pid, 0)
        return
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)  # readable once the process has exited
        if not poller.poll(int(timeout_s * 1000)):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        os.close(pidfd)
    os.waitpid(pid, 0)


def _kill_if_still_guest(pid: int, uid: int) -> None:
    """SIGKILL ``pid`` as root, only if the process behind it is still one of the guest's.

    Opening a pidfd first and checking the uid after pins the process: if the pid was reused by
    another user's process between the listing and now, the check sees that process and skips
    it; if the guest's process ended after the check, the pidfd refers to it (dead) and the
    signal goes nowhere, never to whoever gets the pid next.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except (ProcessLookupError, OSError):
        return
    try:
        if _owner_uids(pid) & {uid}:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except (ProcessLookupError, OSError):
        pass
    finally:
        os.close(pidfd)


# System V IPC outlives the processes that made it (shared memory can hold a page of what the
# resident typed): logind removes it at logout when RemoveIPC=yes, which is not everywhere.
# /proc/sysvipc/<kind>: its id column, its owner's uid column, and the ipcrm option.
_IPC_TABLES = (("shm", 1, 7, "-m"), ("msg", 1, 7, "-q"), ("sem", 1, 4, "-s"))
SYSVIPC = PROC / "sysvipc"


def _guest_ipc(uid: int) -> list[tuple[str, str]]:
    found = []
    for kind, id_column, uid_column, _ in _IPC_TABLES:
        try:
            lines = (SYSVIPC / kind).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > uid_column and fields[uid_column] == str(uid):
                found.append((kind, fields[id_column]))
    return found


def _remove_ipc(guest: GuestAccount, report: WipeReport) -> None:
    """``ipcrm`` every System V shared memory segment, message queue and semaphore set the
    guest owns (their ids come from /proc, the command is run without a shell)."""
    options = {kind: option for kind, _, _, option in _IPC_TABLES}
    removed = 0
    for kind, ident in _guest_ipc(guest.uid):
        done = run_quiet(["ipcrm", options[kind], ident], timeout_s=LOGINCTL_TIMEOUT_S)
        removed += done is not None and done.returncode == 0
    if removed:
        report.did(f"removed {removed} shared memory or IPC objects")


def _other_users_parents(uid: int) -> set[int]:
    """Parents of the guest's processes that are not the guest's (``runuser``, ``su``, sshd).

    ``runuser`` and ``su`` stop themselves when their child is stopped (job control): the freeze
    stops them too, and they would stay stopped for good once their child is killed. The agent's
    own ``runuser`` that shows a message on the guest's screen is one of them.
    """
    guest_pids = {p.pid for p in _guest_processes(uid)}
    parents = set()
    for pid in guest_pids:
        status = _status(pid)
        if status is not None and status.get("PPid", "0").isdigit():
            parent = int(status["PPid"])
            if parent > 1 and parent not in guest_pids and uid not in _owner_uids(parent):
                parents.add(parent)
    return parents


def _resume_stopped(pids: set[int]) -> None:
    """SIGCONT those of ``pids`` that are stopped, so they see their child's end and exit."""
    for pid in pids:
        status = _status(pid)
        if status is None or not status.get("State", "").startswith("T"):
            continue
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGCONT)
        except OSError:
            pass
        finally:
            os.close(pidfd)


def _terminate_logind_user(guest: GuestAccount) -> None:
    """``loginctl terminate-user NAME``: logind ends the sessions and kills the user's cgroup."""
    if not SYSTEMD_RUNTIME.is_dir() or shutil.which("loginctl") is None:
        return  # no logind here (CI, containers): the kill loop does the whole job
    # "user not logged in" is fine, and the kill loop that follows does the job anyway.
    run_quiet(["loginctl", "terminate-user", guest.name], timeout_s=LOGINCTL_TIMEOUT_S)


# -- reading /proc ------------------------------------------------------------------------------


class GuestProcess(NamedTuple):
    pid: int
    name: str  # the command name (comm), never the arguments
    state: str  # /proc's letter: R, S, D, T (stopped), t (stopped by a tracer) …

    @property
    def frozen(self) -> bool:
        """Stopped, or in the kernel until it is (D): it runs no code of its own before the
        pending SIGSTOP stops it. A shell's vfork() parent waits in D for a child that was
        stopped before its exec, for good: it is as frozen as the child."""
        return self.state in ("T", "t", "D")


def _guest_processes(uid: int) -> list[GuestProcess]:
    """Every live process whose real, effective or saved uid is ``uid``."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        status = _status(pid)
        state = status.get("State", "")[:1] if status is not None else ""
        if status is None or state in ("Z", "X"):
            continue
        if uid in _uids(status):
            found.append(GuestProcess(pid, status.get("Name", "?"), state))
    return found


def _owner_uids(pid: int) -> set[int]:
    status = _status(pid)
    return set() if status is None else _uids(status)


def _uids(status: dict[str, str]) -> set[int]:
    # "Uid:	real	effective	saved	filesystem"; the filesystem uid follows the effective one.
    return {int(field) for field in status.get("Uid", "").split()[:3]}


def _status(pid: int) -> dict[str, str] | None:
    try:
        text = (PROC / str(pid) / "status").read_bytes().decode("utf-8", "backslashreplace")
    except OSError:  # ended meanwhile
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        # "Name:" is the comm, which the process chooses (prctl): keep it as it is, the report
        # escapes it; the value is tab-separated from the key.
        fields[key] = value.strip() if key != "Name" else value.removeprefix("\t")
    return fields


def _check(guest: GuestAccount) -> None:
    """Defence in depth: kill(-1) as uid 0 would signal every process on the PC."""
    if guest.uid < FIRST_REGULAR_UID or guest.gid == 0:
        raise ValueError(f"refusing to signal the processes of uid {guest.uid}: not a guest")
