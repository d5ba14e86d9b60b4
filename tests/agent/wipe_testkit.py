"""Helpers of the privacy-wipe tests: mounts and attributes that are undone even when a test fails,
fast file makers, a profile like a resident's, and recording fakes of the other areas' cleaners.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from agent.pc.guest import GuestAccount
from agent.pc.home import SPARE_PREFIX
from agent.pc.report import Leftover, WipeReport
from agent.pc.reset import GuestAreas
from agent.pc.scan import mount_points_under
from agent.pc.wipe import TRASH_PREFIX


@contextmanager
def mounted(*argv: str, target: Path) -> Iterator[Path]:
    """``mount ARGV TARGET`` for the test; unmounted (lazily if busy) whatever happens."""
    subprocess.run(["mount", *argv, str(target)], check=True, capture_output=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def chattr(flags: str, path: Path) -> None:
    subprocess.run(["chattr", flags, str(path)], check=True, capture_output=True)


def clear_attributes_under(directory: Path) -> None:
    """``chattr -i -a`` on everything under ``directory`` (chattr -R does not follow links)."""
    subprocess.run(["chattr", "-R", "-f", "-i", "-a", str(directory)], capture_output=True)


def remove_wipe_traces(parent: Path, guest: GuestAccount | None = None) -> None:
    """Delete the trash dirs under ``parent`` (and the guest's spare area), attributes cleared."""
    leftovers = [p for p in parent.glob(f"{TRASH_PREFIX}*")]
    if guest is not None:
        leftovers.append(guest.home.parent / f"{SPARE_PREFIX}{guest.name}")
    for path in leftovers:
        if path.exists():
            clear_attributes_under(path)
            for mount in sorted(mount_points_under(path), key=lambda p: -len(p.parts)):
                subprocess.run(["umount", "-l", str(mount)], capture_output=True)
            subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


def make_files(directory: Path, count: int, size: int = 0) -> None:
    """``count`` files in ``directory`` (os.open in a loop: 100,000 in a few seconds)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    block = b"x" * size
    try:
        for i in range(count):
            f = os.open(f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=fd)
            if size:
                os.write(f, block)
            os.close(f)
    finally:
        os.close(fd)


# What a resident leaves in a home: browsers' profiles and caches, recent files, keyrings …
RESIDENT_TRACES = (
    ".mozilla/firefox/ab12cd34.default-esr/places.sqlite",
    ".mozilla/firefox/ab12cd34.default-esr/cookies.sqlite",
    ".mozilla/firefox/ab12cd34.default-esr/formhistory.sqlite",
    ".mozilla/firefox/ab12cd34.default-esr/key4.db",
    ".mozilla/firefox/ab12cd34.default-esr/logins.json",
    ".mozilla/firefox/ab12cd34.default-esr/sessionstore-backups/recovery.jsonlz4",
    ".cache/mozilla/firefox/ab12cd34.default-esr/cache2/entries/0A1B2C3D",
    ".config/chromium/Default/History",
    ".config/chromium/Default/Cookies",
    ".config/chromium/Default/Login Data",
    ".config/chromium/Default/Preferences",
    ".local/share/recently-used.xbel",
    ".cache/thumbnails/normal/5d41402abc4b2a76b9719d911017c592.png",
    ".local/share/keyrings/login.keyring",
    ".bash_history",
    ".local/share/Trash/files/letter.odt",
    ".local/share/Trash/info/letter.odt.trashinfo",
    "Documents/CV.odt",
    "Downloads/avis-imposition.pdf",
    "Desktop/photo identité.jpg",
)


def write_resident_traces(guest: GuestAccount) -> list[Path]:
    """Every trace of :data:`RESIDENT_TRACES` in the guest's home, owned by the guest."""
    written = []
    for relative in RESIDENT_TRACES:
        path = guest.home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"private: " + relative.encode())
        written.append(path)
    for root, dirs, files in os.walk(guest.home):
        for name in [*dirs, *files]:
            os.chown(Path(root, name), guest.uid, guest.gid, follow_symlinks=False)
    return written


class RecordingAreas:
    """Fakes of the other areas' cleaners that record the order they were called in."""

    def __init__(
        self, leftovers: list[Leftover] | None = None, found_by_scan: list[Leftover] | None = None
    ) -> None:
        self.calls: list[str] = []
        self.leftovers = leftovers or []
        self.found_by_scan = found_by_scan or []
        self.reset_areas: list[Path] = []  # what the last uid scan was told to skip

    def areas(self) -> GuestAreas:
        def record(name: str) -> object:
            def cleaner(guest: GuestAccount, report: WipeReport | None = None) -> frozenset[int]:
                self.calls.append(name)
                return frozenset()

            return cleaner

        def check(guest: GuestAccount) -> list[Leftover]:
            self.calls.append("check")
            return list(self.leftovers)

        def find_guest_files(guest: GuestAccount, reset_areas: Sequence[Path]) -> list[Leftover]:
            self.calls.append("uid-scan")
            self.reset_areas = list(reset_areas)
            return list(self.found_by_scan)

        return GuestAreas(
            freeze_processes=record("freeze"),  # type: ignore[arg-type]
            end_processes=record("end"),  # type: ignore[arg-type]
            remove_scheduled_jobs=record("jobs"),  # type: ignore[arg-type]
            unmount_media=record("media"),  # type: ignore[arg-type]
            cancel_print_jobs=record("print"),  # type: ignore[arg-type]
            remove_print_log=record("print-log"),  # type: ignore[arg-type]
            remove_connections=record("network"),  # type: ignore[arg-type]
            remove_journal=record("journal"),  # type: ignore[arg-type]
            remove_pairings=record("bluetooth"),  # type: ignore[arg-type]
            checks=(check,),
            find_guest_files=find_guest_files,
        )


def write_system_traces(guest: GuestAccount, root: Path) -> list[Path]:
    """What the system keeps of a resident outside the home, in a test's stand-in directories:
    the guest's journal, a phone's Bluetooth pairing, and a page log line naming a document.

    Laid out as journald, bluetoothd and cupsd lay them out under ``root/journal``,
    ``root/bluetooth`` and ``root/cups`` (see ``TracePlaces`` in agent/pc/reset.py).
    """
    machine = root / "journal" / "0123456789abcdef0123456789abcdef"
    machine.mkdir(parents=True)
    journal = machine / f"user-{guest.uid}.journal"
    journal.write_bytes(b"LPKSHHRH" + b"\0" * 4096)
    pairing = root / "bluetooth" / "00:1A:7D:DA:71:13" / "F0:99:B6:44:55:66"
    pairing.mkdir(parents=True)
    (pairing / "info").write_text("[General]\nName=iPhone de Marie\n\n[LinkKey]\nKey=0A1B\n")
    page_log = root / "cups" / "page_log"
    page_log.parent.mkdir()
    page_log.write_text(
        f"accueil {guest.name} 11 [22/Nov/2026:10:28:28 +0100] total 2 - localhost"
        " releve-CAF-Mme-X.pdf A4 one-sided\n"
    )
    return [journal, pairing, page_log]
