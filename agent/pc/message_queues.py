"""POSIX message queues the guest created: removed at every reset, their messages with them.

A queue (``mq_open``) outlives the process that made it, until it is unlinked or the machine
reboots, and its messages are whatever the resident's program put in them. The kernel lists a
namespace's queues only through an ``mqueue`` filesystem: systemd mounts one on ``/dev/mqueue``;
without it (containers, minimal systems) the agent mounts a private one for the time of a look.

POSIX shared memory and semaphores are files in ``/dev/shm``, cleaned with the temporary areas
(:mod:`agent.pc.tmpfiles`); System V objects are removed with the processes
(:mod:`agent.pc.processes`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from agent.actions import Outcome, run_tool
from agent.pc.guest import FIRST_REGULAR_UID, GuestAccount
from agent.pc.media import read_mount_table
from agent.pc.report import Leftover, WipeReport

log = logging.getLogger(__name__)
MOUNT_TIMEOUT_S = 10


class QueuesUnreadable(Exception):
    """The kernel has message queues but the agent could not list them (mount refused)."""


def remove_guest_queues(guest: GuestAccount, report: WipeReport) -> None:
    """Unlink every message queue the guest owns; other accounts' queues are kept.

    Queues that cannot be listed are reported as left by :func:`guest_queues_left` (the check
    that follows): the wipe cannot vouch for them.
    """
    _check(guest)
    with contextlib.suppress(QueuesUnreadable):
        _remove(guest, report)


def _remove(guest: GuestAccount, report: WipeReport) -> None:
    with _queue_directory() as directory:
        if directory is None:
            return
        removed = 0
        for name in _owned_by(directory, guest.uid):
            try:
                os.unlink(directory / name)
            except FileNotFoundError:  # unlinked meanwhile by its owner
                continue
            removed += 1
        if removed:
            report.did(f"removed {removed} message queues")


def guest_queues_left(guest: GuestAccount) -> list[Leftover]:
    """The guest's message queues still there, named by their place only."""
    _check(guest)
    try:
        with _queue_directory() as directory:
            if directory is None:
                return []
            return [
                Leftover("ipc", "message queue", "POSIX message queue of the guest still there")
                for _ in _owned_by(directory, guest.uid)
            ]
    except QueuesUnreadable as exc:
        return [Leftover("ipc", "message queues", str(exc))]


def _owned_by(directory: Path, uid: int) -> list[str]:
    names = []
    for entry in os.scandir(directory):
        try:
            if entry.stat(follow_symlinks=False).st_uid == uid:
                names.append(entry.name)
        except FileNotFoundError:
            continue
    return names


@contextlib.contextmanager
def _queue_directory() -> Iterator[Path | None]:
    """An ``mqueue`` mount of the agent's IPC namespace: the system's, or a private one."""
    for mount in read_mount_table():
        if mount.fstype == "mqueue":
            yield Path(mount.path)
            return
    if not _kernel_has_queues():
        yield None  # built without POSIX message queues: there can be none to remove
        return
    # A random, root-only (0700) directory: nobody else can reach the mount while it exists.
    scratch = Path(tempfile.mkdtemp(prefix="borne-mqueue-"))
    try:
        mounted = _run(["mount", "-t", "mqueue", "-o", "nosuid,nodev,noexec", "mqueue", scratch])
        if not mounted.ok:
            raise QueuesUnreadable(f"could not be listed: {mounted.output.strip()}")
        try:
            yield scratch
        finally:
            unmounted = _run(["umount", scratch])
            if not unmounted.ok:
                log.error("could not unmount %s: %s", scratch, unmounted.output.strip())
    finally:
        with contextlib.suppress(OSError):
            scratch.rmdir()


def _kernel_has_queues(filesystems: Path = Path("/proc/filesystems")) -> bool:
    try:
        return any(line.split()[-1:] == ["mqueue"] for line in filesystems.read_text().splitlines())
    except OSError:
        return True  # cannot tell: try, and report if listing fails


def _run(argv: list[str | Path]) -> Outcome:
    return run_tool([str(arg) for arg in argv], timeout_s=MOUNT_TIMEOUT_S)


def _check(guest: GuestAccount) -> None:
    if guest.uid < FIRST_REGULAR_UID:
        raise ValueError(f"refusing to remove the message queues of uid {guest.uid}")
