"""A real, throwaway guest account for the public-PC tests (created with useradd, removed after).

The tests of the wipe run as root against real accounts and real files; each gets its own account
with a random name so a failed run never leaves a user that the next run would trip on.
"""

from __future__ import annotations

import os
import pwd
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from agent.pc.guest import GuestAccount, resolve_guest
from agent.pc.home import SPARE_PREFIX


def guest_processes(uid: int) -> list[int]:
    """Live processes of ``uid`` (zombies are skipped: here PID 1 does not reap orphans)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid and not _zombie(entry):
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return pids


def _zombie(entry: Path) -> bool:
    stat = (entry / "stat").read_text()
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


@contextmanager
def throwaway_guest(home_parent: Path | None = None) -> Iterator[GuestAccount]:
    """A new regular account (uid >= 1000) with a home, removed with its processes afterwards."""
    name = f"bgtest-{secrets.token_hex(3)}"
    argv = ["useradd", "--create-home", "--shell", "/bin/bash", "--user-group"]
    if home_parent is not None:
        argv += ["--home-dir", str(home_parent / name)]
    subprocess.run([*argv, name], check=True, capture_output=True)
    entry = pwd.getpwnam(name)
    uid = entry.pw_uid
    try:
        yield resolve_guest(name)
    finally:
        for _ in range(50):
            pids = guest_processes(uid)
            if not pids:
                break
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        subprocess.run(["crontab", "-r", "-u", name], capture_output=True)
        subprocess.run(["userdel", "--force", "--remove", name], capture_output=True)
        _remove_what_the_uid_left(uid, name, Path(entry.pw_dir).parent)


def _remove_what_the_uid_left(uid: int, name: str, home_parent: Path) -> None:
    """The spare area and anything of the uid beside the home (a home renamed by a test): the
    next throwaway account gets the same uid, and the wipe's last scan would find them."""
    for left in home_parent.iterdir():
        with suppress(FileNotFoundError):
            if left.name == f"{SPARE_PREFIX}{name}" or left.lstat().st_uid == uid:
                subprocess.run(["rm", "-rf", "--one-file-system", str(left)], check=False)


def run_as(guest: GuestAccount, *argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as the guest (runuser, a login environment), failing on a non-zero exit."""
    return subprocess.run(
        ["runuser", "-u", guest.name, "--", *argv],
        check=True,
        capture_output=True,
        text=True,
        env={"HOME": str(guest.home), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "USER": guest.name},
        **kwargs,  # type: ignore[arg-type]
    )
