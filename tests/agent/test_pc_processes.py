"""Ending the guest's processes: real processes of a real throwaway account, started with runuser.

Each shape of process a resident could leave behind is started for real (plain, daemonised,
deaf to SIGTERM and SIGHUP, forking in a loop, under nohup); after freeze and end none is left,
while another account's process and root's survive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from guest_testkit import throwaway_guest

from agent.actions import Outcome
from agent.pc import message_queues
from agent.pc.guest import GuestAccount
from agent.pc.processes import (
    end_guest_processes,
    freeze_guest_processes,
    guest_processes_left,
)
from agent.pc.report import Leftover, WipeReport
from tests.polling import wait_for

# A bounded loop that forks a child every 5 ms: a reset must stop it in one go.
FORKER = "i=0; while [ $i -lt 20000 ]; do sleep 1000 & i=$((i+1)); sleep 0.005; done"
# SIG_IGN survives exec: this sleep ignores SIGTERM and SIGHUP, as a stubborn program would.
DEAF = 'trap "" TERM HUP; exec sleep 1000'


def processes_of(uid: int) -> dict[int, str]:
    """pid → state of the live processes whose real or effective uid is ``uid`` (ps, not /proc)."""
    out = subprocess.run(
        ["ps", "-U", str(uid), "-u", str(uid), "-o", "pid=,stat="],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    rows = (line.split() for line in out.splitlines() if line.strip())
    return {int(pid): stat for pid, stat in rows if not stat.startswith("Z")}


def alive(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is None


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start processes with Popen and make sure the test reaps and stops them all."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def start_resident_leftovers(
    guest: GuestAccount, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    as_guest = ["runuser", "-u", guest.name, "--"]
    spawn(*as_guest, "sleep", "1000")
    spawn(*as_guest, "setsid", "-f", "sleep", "1000").wait(10)  # daemonised: parent is init
    spawn(*as_guest, "setsid", "-f", "sh", "-c", DEAF).wait(10)
    spawn(*as_guest, "nohup", "sleep", "1000")
    spawn(*as_guest, "sh", "-c", FORKER)
    # plain, setsid, deaf, nohup, the forker's shell and several of its children
    wait_for(lambda: len(processes_of(guest.uid)) >= 8, timeout=10)


def test_freeze_stops_every_guest_process_at_once(
    guest: GuestAccount, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    start_resident_leftovers(guest, spawn)

    frozen = freeze_guest_processes(guest)

    states = processes_of(guest.uid)
    assert set(states) <= frozen
    # Stopped (T), or in the kernel with the stop pending (D): the forking shell's vfork()
    # parent waits there for a child stopped before its exec.
    assert states and all(stat.startswith(("T", "D")) for stat in states.values())
    assert any(stat.startswith("T") for stat in states.values())
    # The forker is stopped: no new child appears.
    assert set(processes_of(guest.uid)) == set(states)


def test_end_leaves_no_guest_process_of_any_shape(
    guest: GuestAccount, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    start_resident_leftovers(guest, spawn)
    report = WipeReport()

    freeze_guest_processes(guest)
    end_guest_processes(guest, report)

    assert processes_of(guest.uid) == {}
    assert guest_processes_left(guest) == []
    assert report.clean
    assert any(action.startswith("ended ") for action in report.actions)


def test_end_without_freeze_still_catches_a_forking_process(
    guest: GuestAccount, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    spawn("runuser", "-u", guest.name, "--", "sh", "-c", FORKER)
    wait_for(lambda: len(processes_of(guest.uid)) >= 4, timeout=10)

    end_guest_processes(guest, WipeReport())

    assert processes_of(guest.uid) == {}


def test_other_accounts_and_root_keep_their_processes(
    guest: GuestAccount, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    start_resident_leftovers(guest, spawn)
    with throwaway_guest() as colleague:
        colleagues_sleep = spawn("runuser", "-u", colleague.name, "--", "sleep", "1000")
        roots_sleep = spawn("sleep", "1000")
        wait_for(lambda: len(processes_of(colleague.uid)) == 1, timeout=10)

        freeze_guest_processes(guest)
        end_guest_processes(guest, WipeReport())

        assert processes_of(guest.uid) == {}
        assert alive(roots_sleep)
        assert alive(colleagues_sleep)
        [state] = processes_of(colleague.uid).values()
        assert not state.startswith("T")  # not even stopped by the freeze


def test_a_leftover_names_the_command_never_its_arguments(guest: GuestAccount) -> None:
    # A process the kill cannot reach (a real one would be stuck in the kernel): simulated by
    # listing before the end, which is what the scan after a reset does.
    secret = "lettre-a-la-caf-de-madame-x.odt"
    proc = subprocess.Popen(
        # The document's name is in the shell's command line ($0), as in "soffice lettre.odt".
        ["runuser", "-u", guest.name, "--", "sh", "-c", 'sleep 1000; : "$0"', secret],
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(processes_of(guest.uid)) == 2, timeout=10)
        leftovers = guest_processes_left(guest)
        assert {leftover.area for leftover in leftovers} == {"processes"}
        assert sorted(leftover.path for leftover in leftovers) == ["sh", "sleep"]
        assert secret not in repr(leftovers)
    finally:
        proc.kill()
        proc.wait(10)


def test_a_system_account_is_refused(tmp_path: Path) -> None:
    daemon = GuestAccount(name="daemon", uid=1, gid=1, home=tmp_path)
    with pytest.raises(ValueError):
        freeze_guest_processes(daemon)
    with pytest.raises(ValueError):
        end_guest_processes(daemon, WipeReport())


def test_a_root_runuser_stopped_with_its_child_is_resumed_and_ends(guest: GuestAccount) -> None:
    # runuser (root) stops itself when its child is stopped: it must not stay stopped for good.
    parent = subprocess.Popen(["runuser", "-u", guest.name, "--", "sleep", "1000"])
    try:
        wait_for(lambda: bool(processes_of(guest.uid)), timeout=10)
        freeze_guest_processes(guest)
        end_guest_processes(guest, WipeReport())
        parent.wait(timeout=10)  # resumed, it saw its child killed and exited
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert parent.returncode != 0


def test_a_guest_stopping_the_freeze_helper_does_not_hang_the_reset(
    guest: GuestAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The helper runs as the guest: a hostile process may stop it between its setuid and its
    # exit. Simulated here by a helper that stops itself: the reset must go on regardless.
    real_kill = os.kill

    def stopped_helper(pid: int, signum: int) -> None:
        if pid == -1:
            real_kill(os.getpid(), signal.SIGSTOP)
        else:
            real_kill(pid, signum)

    monkeypatch.setattr(os, "kill", stopped_helper)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (freeze_guest_processes(guest), done.set()))
    worker.start()
    worker.join(timeout=20)

    assert done.is_set()


def test_the_guests_shared_memory_and_ipc_objects_go_with_its_processes(
    guest: GuestAccount,
) -> None:
    for option in ("-M", "-Q", "-S"):
        subprocess.run(
            ["runuser", "-u", guest.name, "--", "ipcmk", option, "1" if option == "-S" else "4096"],
            check=True,
            capture_output=True,
        )
    assert len(guest_processes_left(guest)) == 3  # reported while they are there

    report = WipeReport()
    end_guest_processes(guest, report)

    assert guest_processes_left(guest) == []
    assert "removed 3 shared memory or IPC objects" in report.actions


# mq_open(name, O_CREAT | O_RDWR, 0600, NULL), then one message the next resident must not read.
MAKE_QUEUE = """
import ctypes, os, sys
rt = ctypes.CDLL("librt.so.1", use_errno=True)
rt.mq_open.restype = ctypes.c_int
queue = rt.mq_open(sys.argv[1].encode(), os.O_CREAT | os.O_RDWR, ctypes.c_uint(0o600), None)
if queue < 0:
    sys.exit(os.strerror(ctypes.get_errno()))
message = b"code CAF 123456"
sys.exit(rt.mq_send(queue, message, ctypes.c_size_t(len(message)), ctypes.c_uint(0)))
"""


def test_the_guests_posix_message_queues_go_and_others_stay(guest: GuestAccount) -> None:
    python = "/usr/bin/python3"  # the system's: the guest cannot read the project's .venv
    subprocess.run(
        ["runuser", "-u", guest.name, "--", python, "-c", MAKE_QUEUE, "/borne-test-resident"],
        check=True,
        capture_output=True,
    )
    subprocess.run([python, "-c", MAKE_QUEUE, "/borne-test-root"], check=True)
    try:
        assert [left.reason for left in guest_processes_left(guest)] == [
            "POSIX message queue of the guest still there"
        ]
        report = WipeReport()

        end_guest_processes(guest, report)

        assert guest_processes_left(guest) == []
        assert "removed 1 message queues" in report.actions
        assert queue_exists("/borne-test-root")
        assert not queue_exists("/borne-test-resident")
    finally:
        subprocess.run([python, "-c", UNLINK_QUEUE, "/borne-test-root"], check=False)


UNLINK_QUEUE = """
import ctypes, sys
sys.exit(ctypes.CDLL("librt.so.1").mq_unlink(sys.argv[1].encode()))
"""
OPEN_QUEUE = """
import ctypes, os, sys
queue = ctypes.CDLL("librt.so.1").mq_open(sys.argv[1].encode(), os.O_RDONLY)
sys.exit(0 if queue >= 0 else 1)
"""


def queue_exists(name: str) -> bool:
    return subprocess.run(["/usr/bin/python3", "-c", OPEN_QUEUE, name], check=False).returncode == 0


def test_queues_that_cannot_be_listed_are_reported_never_assumed_gone(
    guest: GuestAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a container without the right to mount: the wipe cannot vouch for the queues.
    monkeypatch.setattr(message_queues, "read_mount_table", lambda: [])
    monkeypatch.setattr(
        message_queues, "_run", lambda argv: Outcome(argv[0] != "mount", "mount: permission denied")
    )
    report = WipeReport()

    end_guest_processes(guest, report)

    assert report.leftovers == [
        Leftover("ipc", "message queues", "could not be listed: mount: permission denied")
    ]
