"""Removing the guest's crontab and at jobs, installed for real by a guest, with cron and atd."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from guest_testkit import run_as, throwaway_guest

from agent.pc.guest import GuestAccount
from agent.pc.jobs import CRONTABS, remove_scheduled_jobs, scheduled_jobs_left
from agent.pc.report import WipeReport

CRONTAB = "*/5 * * * * echo still here >> /tmp/borne-test-cron\n"


def _running(pidfile: Path, comm: str) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
        if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
            return pid
    except (OSError, ValueError, IndexError):
        pass
    return None


def _daemon(argv: list[str], pidfile: Path, comm: str) -> Iterator[int]:
    """Start ``argv`` (a daemon that writes ``pidfile``) unless it runs; stop it only if we did."""
    already = _running(pidfile, comm)
    if already is not None:
        yield already
        return
    subprocess.run(argv, check=True, capture_output=True, timeout=10)
    deadline = time.monotonic() + 10
    while (pid := _running(pidfile, comm)) is None:
        assert time.monotonic() < deadline, f"{comm} did not start"
        time.sleep(0.02)
    try:
        yield pid
    finally:
        os.kill(pid, 15)


@pytest.fixture
def atd() -> Iterator[int]:
    yield from _daemon(["atd"], Path("/run/atd.pid"), "atd")


@pytest.fixture
def cron() -> Iterator[int]:
    yield from _daemon(["cron"], Path("/run/crond.pid"), "cron")


def install_crontab(account: GuestAccount) -> None:
    run_as(account, "crontab", "-", input=CRONTAB, cwd=account.home)


def queue_at_job(account: GuestAccount) -> None:
    run_as(account, "at", "now", "+", "1", "hour", input="echo still here\n", cwd=account.home)


def at_owners() -> list[str]:
    listed = subprocess.run(["atq"], capture_output=True, text=True, check=True).stdout
    return [line.split()[-1] for line in listed.splitlines() if line.strip()]


def has_crontab(account: GuestAccount) -> bool:
    shown = subprocess.run(["crontab", "-l", "-u", account.name], capture_output=True, text=True)
    return shown.returncode == 0


def test_the_guest_may_schedule_jobs_on_a_default_system() -> None:
    # Debian's defaults: no cron.allow (everyone may use cron), at.deny lists system accounts.
    assert not Path("/etc/cron.allow").exists()
    assert not Path("/etc/at.allow").exists()


def test_the_guests_crontab_and_at_jobs_are_removed(
    guest: GuestAccount, atd: int, cron: int
) -> None:
    install_crontab(guest)
    queue_at_job(guest)
    queue_at_job(guest)
    assert has_crontab(guest)
    assert at_owners().count(guest.name) == 2
    report = WipeReport()

    remove_scheduled_jobs(guest, report)

    assert not has_crontab(guest)
    assert not (CRONTABS / guest.name).exists()
    assert guest.name not in at_owners()
    assert scheduled_jobs_left(guest) == []
    assert report.clean
    assert "removed the guest's crontab" in report.actions
    assert "removed 2 at jobs" in report.actions


def test_another_accounts_jobs_stay(guest: GuestAccount, atd: int, cron: int) -> None:
    with throwaway_guest() as colleague:
        install_crontab(colleague)
        queue_at_job(colleague)
        install_crontab(guest)

        remove_scheduled_jobs(guest, WipeReport())

        assert has_crontab(colleague)
        assert at_owners().count(colleague.name) == 1
        subprocess.run(["atrm", *at_ids(colleague.name)], check=True)


def at_ids(owner: str) -> list[str]:
    listed = subprocess.run(["atq"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in listed.splitlines() if line.split()[-1:] == [owner]]


def test_a_crontab_is_removed_even_without_the_crontab_tool(
    guest: GuestAccount, tmp_path: Path
) -> None:
    spool = tmp_path / "crontabs"
    spool.mkdir()
    (spool / guest.name).write_text(CRONTAB)
    report = WipeReport()

    remove_scheduled_jobs(guest, report, crontabs=spool, at_jobs=tmp_path / "no-at")

    assert not (spool / guest.name).exists()
    assert report.clean


def test_nothing_scheduled_reports_nothing(guest: GuestAccount) -> None:
    report = WipeReport()
    remove_scheduled_jobs(guest, report)
    assert report.actions == [] and report.clean
