"""Purging the guest's print jobs: a private cupsd started by the test, real jobs from a guest.

The cupsd (``cups`` in conftest.py) has two queues writing to /dev/null: ``borne-test`` prints
at once (the job completes and CUPS keeps its document), and ``borne-stopped`` is disabled, so
its jobs stay pending.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from cups_testkit import PrintServer
from guest_testkit import run_as, throwaway_guest

from agent.pc.guest import GuestAccount
from agent.pc.printing import SILENT, cancel_print_jobs, print_jobs_left
from agent.pc.report import WipeReport
from tests.polling import wait_for


def print_as(account: GuestAccount, server: PrintServer, queue: str, *options: str) -> str:
    document = account.home / "releve-bancaire.txt"
    document.write_text("IBAN FR76 3000 6000 0112 3456 7890 189\n")
    os.chown(document, account.uid, account.gid)
    out = run_as(account, "lp", "-h", str(server.socket), "-d", queue, *options, str(document))
    return re.search(r"request id is (\S+)", out.stdout)[1]  # type: ignore[index]


def test_every_guest_job_is_purged_with_its_document(
    guest: GuestAccount, cups: PrintServer
) -> None:
    printed = print_as(guest, cups, "borne-test")
    held = print_as(guest, cups, "borne-test", "-H", "hold")
    pending = print_as(guest, cups, "borne-stopped")
    wait_for(lambda: printed in cups.lpstat("completed"), timeout=10)
    jobs = (printed, held, pending)
    assert all(cups.spool_files(job) for job in jobs)  # CUPS keeps the documents
    report = WipeReport()

    cancel_print_jobs(guest, report, server=cups.socket)

    listed = cups.lpstat("all")
    assert not any(job in listed.split() for job in jobs)
    assert all(cups.spool_files(job) == [] for job in jobs)
    assert print_jobs_left(guest, server=cups.socket) == []
    assert report.clean
    assert "cancelled 3 print jobs" in report.actions


def test_another_users_job_stays(guest: GuestAccount, cups: PrintServer) -> None:
    with throwaway_guest() as colleague:
        theirs = print_as(colleague, cups, "borne-test", "-H", "hold")
        print_as(guest, cups, "borne-test", "-H", "hold")

        cancel_print_jobs(guest, WipeReport(), server=cups.socket)

        assert theirs in cups.lpstat("all").split()
        assert cups.spool_files(theirs)


def test_without_a_print_server_it_reports_and_goes_on(guest: GuestAccount, tmp_path: Path) -> None:
    report = WipeReport()

    cancel_print_jobs(guest, report, server=tmp_path / "no-cups.sock")

    assert report.actions == ["no print server"]
    assert report.clean
    assert print_jobs_left(guest, server=tmp_path / "no-cups.sock") == []


def test_a_print_server_that_refuses_is_a_leftover_not_no_print_server(
    guest: GuestAccount, tmp_path: Path
) -> None:
    # A stale socket: cupsd died without removing it, and its queue may still hold the jobs.
    stale = tmp_path / "cups.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(stale))
    listener.close()
    report = WipeReport()

    cancel_print_jobs(guest, report, server=stale)

    assert "no print server" not in report.actions
    assert [(left.area, left.reason) for left in report.leftovers] == [("print", SILENT)]
    assert [left.reason for left in print_jobs_left(guest, server=stale)] == [SILENT]


def test_a_print_server_that_never_answers_is_a_leftover(
    guest: GuestAccount, tmp_path: Path
) -> None:
    # Connections are accepted (the kernel's backlog) and never answered: a stuck cupsd.
    stuck = tmp_path / "cups.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(stuck))
        listener.listen(16)
        report = WipeReport()

        cancel_print_jobs(guest, report, server=stuck, timeout_s=1)
        left = print_jobs_left(guest, server=stuck, timeout_s=1)

    assert [(item.area, item.reason) for item in report.leftovers] == [("print", SILENT)]
    assert [item.reason for item in left] == [SILENT]
