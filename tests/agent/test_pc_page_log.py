"""CUPS' page log (agent/pc/page_log.py): the guest's lines go, who printed what with them."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import pytest

from agent.pc.guest import GuestAccount
from agent.pc.page_log import page_log_left, remove_guest_page_log
from agent.pc.report import WipeReport

LP_GID = 7  # Debian's lp group: cupsd's log files are root:lp 0640


def line(printer: str, user: str, job: int, title: str) -> str:
    """A line in Debian's PageLogFormat: %p %u %j %T %P %C billing host job-name media sides."""
    return (
        f"{printer} {user} {job} [22/Nov/2026:10:28:{job % 60:02d} +0100] total 2 - "
        f"localhost {title} A4 one-sided\n"
    )


@pytest.fixture
def logs(guest: GuestAccount, tmp_path: Path) -> Path:
    directory = tmp_path / "cups"
    directory.mkdir()
    theirs = line("accueil", "marie.staff", 10, "planning-semaine.pdf")
    live = directory / "page_log"
    live.write_text(theirs + line("accueil", guest.name, 11, "releve-CAF-Mme-X.pdf"))
    (directory / "page_log.1").write_text(line("accueil", guest.name, 9, "CV-Karim.odt") + theirs)
    (directory / "page_log.2.gz").write_bytes(
        gzip.compress((line("accueil", guest.name, 3, "avis-imposition.pdf") + theirs).encode())
    )
    (directory / "access_log").write_text(f"localhost - {guest.name} [22/Nov/2026] POST /\n")
    for path in directory.iterdir():
        os.chown(path, 0, LP_GID)
        os.chmod(path, 0o640)
    return live


def test_the_guests_lines_go_from_the_page_log_and_its_rotated_copies(
    guest: GuestAccount, logs: Path
) -> None:
    report = WipeReport()

    remove_guest_page_log(guest, report, logs)

    for name in ("page_log", "page_log.1"):
        assert (logs.parent / name).read_text() == line(
            "accueil", "marie.staff", 10, "planning-semaine.pdf"
        )
    assert b"avis-imposition" not in gzip.decompress((logs.parent / "page_log.2.gz").read_bytes())
    for name in ("page_log", "page_log.1", "page_log.2.gz"):
        st = (logs.parent / name).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, LP_GID, 0o640)
    assert guest.name in (logs.parent / "access_log").read_text()  # not a page log: untouched
    assert page_log_left(guest, logs) == []
    assert report.clean and report.actions == ["removed 3 line(s) of the guest from the print log"]


def test_cupsd_keeps_logging_into_the_live_page_log(guest: GuestAccount, logs: Path) -> None:
    # cupsd holds the page log open in append mode: its next line must land in the file.
    cupsd = os.open(logs, os.O_WRONLY | os.O_APPEND)
    inode = logs.stat().st_ino
    try:
        remove_guest_page_log(guest, WipeReport(), logs)
        os.write(cupsd, line("accueil", "marie.staff", 12, "affiche.pdf").encode())
    finally:
        os.close(cupsd)

    assert logs.stat().st_ino == inode
    assert logs.read_text().splitlines() == [
        line("accueil", "marie.staff", 10, "planning-semaine.pdf").strip(),
        line("accueil", "marie.staff", 12, "affiche.pdf").strip(),
    ]


def test_a_damaged_rotated_log_is_reported(guest: GuestAccount, logs: Path) -> None:
    (logs.parent / "page_log.3.gz").write_bytes(gzip.compress(b"x" * 100)[:20])
    report = WipeReport()

    remove_guest_page_log(guest, report, logs)

    [left] = report.leftovers
    assert left.path.endswith("/page_log.3.gz") and "damaged gzip file" in left.reason
    assert [item.path for item in page_log_left(guest, logs)] == [left.path]


def test_no_print_log_on_this_pc_is_not_an_error(guest: GuestAccount, tmp_path: Path) -> None:
    report = WipeReport()

    remove_guest_page_log(guest, report, tmp_path / "none" / "page_log")

    assert report.clean and report.actions == []
