"""The guest's own journal files (agent/pc/journal.py) go at each reset; the PC's logs stay."""

from __future__ import annotations

from pathlib import Path

from agent.pc.guest import GuestAccount
from agent.pc.journal import guest_journal_left, remove_guest_journal
from agent.pc.report import WipeReport

MACHINE = "0123456789abcdef0123456789abcdef"


def journal_file(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"LPKSHHRH" + b"\0" * 4096)  # a journal file's magic, then its entries
    return path


def test_the_guests_journal_goes_persistent_volatile_and_archived(
    guest: GuestAccount, tmp_path: Path
) -> None:
    persistent, volatile = tmp_path / "var-log-journal", tmp_path / "run-log-journal"
    uid = guest.uid
    guests = [
        journal_file(persistent / MACHINE, f"user-{uid}.journal"),
        journal_file(
            persistent / MACHINE, f"user-{uid}@0005f1a2b3c4d5e6-1a2b3c4d5e6f7a8b.journal~"
        ),
        journal_file(persistent / MACHINE, f"user-{uid}@9c1d-0000000000000001-0005f1.journal"),
        journal_file(persistent / f"{MACHINE}.kiosk", f"user-{uid}.journal"),  # a namespace
        journal_file(volatile / MACHINE, f"user-{uid}.journal"),
    ]
    kept = [
        journal_file(persistent / MACHINE, "system.journal"),
        journal_file(persistent / MACHINE, f"user-{uid}0.journal"),  # uid 10010 is not 1001
        journal_file(persistent / MACHINE, "user-1000.journal"),
    ]
    report = WipeReport()

    remove_guest_journal(guest, report, (persistent, volatile))

    assert [path for path in guests if path.exists()] == []
    assert all(path.exists() for path in kept)
    assert guest_journal_left(guest, (persistent, volatile)) == []
    assert report.clean and report.actions == ["removed 5 journal file(s) of the guest"]


def test_a_link_named_like_the_journal_is_removed_not_followed(
    guest: GuestAccount, tmp_path: Path
) -> None:
    elsewhere = journal_file(tmp_path / "elsewhere", "system.journal")
    machine = tmp_path / "journal" / MACHINE
    machine.mkdir(parents=True)
    (machine / f"user-{guest.uid}.journal").symlink_to(elsewhere)
    (tmp_path / "journal" / "linked-machine").symlink_to(tmp_path / "elsewhere")

    remove_guest_journal(guest, WipeReport(), (tmp_path / "journal",))

    assert not (machine / f"user-{guest.uid}.journal").is_symlink()
    assert elsewhere.exists()


def test_no_journal_on_this_pc_is_not_an_error(guest: GuestAccount, tmp_path: Path) -> None:
    report = WipeReport()

    remove_guest_journal(guest, report, (tmp_path / "none",))

    assert report.clean and report.actions == []
