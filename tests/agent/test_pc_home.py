"""The fresh home swapped in: a real guest account, a real skeleton, real renames."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wipe_testkit import make_files, mounted, remove_wipe_traces

from agent.pc.guest import GuestAccount
from agent.pc.home import HomeError, SpareHome
from agent.pc.report import WipeReport
from agent.pc.scan import home_leftovers
from agent.pc.wipe import trash_left_in, wipe_trash


@pytest.fixture
def skeleton(tmp_path: Path) -> Path:
    skel = tmp_path / "skel"
    (skel / ".config" / "xfce4").mkdir(parents=True)
    (skel / ".bashrc").write_text("export LANG=fr_FR.UTF-8\n")
    (skel / ".config" / "xfce4" / "panel.xml").write_text("<panel/>")
    (skel / "Bureau").mkdir()
    (skel / "Bureau" / "lisez-moi.txt").write_text("Bienvenue")
    os.chmod(skel / "Bureau" / "lisez-moi.txt", 0o640)
    (skel / "Bureau" / "Aide").symlink_to("/usr/share/doc")
    return skel


@pytest.fixture
def spare(guest: GuestAccount, skeleton: Path) -> Iterator[SpareHome]:
    yield SpareHome(guest, skeleton)
    remove_wipe_traces(guest.home.parent, guest)


def test_spare_is_built_from_the_skeleton_owned_by_the_guest(
    spare: SpareHome, guest: GuestAccount
) -> None:
    assert spare.prepare()

    area = os.lstat(spare.area)
    assert (area.st_uid, stat.S_IMODE(area.st_mode)) == (0, 0o700)
    note = spare.spare / "Bureau" / "lisez-moi.txt"
    assert note.read_text() == "Bienvenue"
    assert stat.S_IMODE(note.stat().st_mode) == 0o640
    assert os.readlink(spare.spare / "Bureau" / "Aide") == "/usr/share/doc"
    for path in [spare.spare, *spare.spare.rglob("*")]:
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (guest.uid, guest.gid), path
    assert spare.is_ready()
    assert not spare.prepare()  # already ready: nothing rebuilt


def test_swap_puts_the_skeleton_in_place_and_the_old_home_in_root_only_trash(
    spare: SpareHome, guest: GuestAccount, skeleton: Path
) -> None:
    (guest.home / "Documents").mkdir()
    (guest.home / "Documents" / "CV.odt").write_text("private")
    spare.prepare()
    report = WipeReport()

    trash = spare.swap(report)

    assert trash is not None and trash.parent == guest.home.parent
    st = os.lstat(trash)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)
    assert (trash / "0" / guest.name / "Documents" / "CV.odt").read_text() == "private"
    assert home_leftovers(guest, skeleton) == []
    assert os.lstat(guest.home).st_uid == guest.uid
    assert not spare.is_ready()  # used up: the next one is prepared in the background
    wipe_trash(trash, report, "home")
    assert report.clean and trash_left_in(guest.home.parent) == []


def test_swap_without_a_spare_builds_one_on_the_spot(
    spare: SpareHome, guest: GuestAccount, skeleton: Path
) -> None:
    report = WipeReport()

    spare.swap(report)

    assert "built the fresh home on the spot (no spare was ready)" in report.actions
    assert home_leftovers(guest, skeleton) == []


def test_the_display_managers_cookie_file_is_not_a_leftover(
    spare: SpareHome, guest: GuestAccount, skeleton: Path
) -> None:
    """LightDM rewrites ~/.Xauthority in the new home as the last session ends; anything else
    the skeleton does not have still is a leftover."""
    spare.swap(WipeReport())
    (guest.home / ".Xauthority").write_bytes(b"\x01\x00cookie")
    (guest.home / ".xsession-errors").write_text("the last session's log")

    left = home_leftovers(guest, skeleton)

    assert [Path(item.path).name for item in left] == [".xsession-errors"]


def test_changed_skeleton_makes_the_spare_stale(
    spare: SpareHome, guest: GuestAccount, skeleton: Path
) -> None:
    spare.prepare()
    (skeleton / ".bashrc").write_text("export LANG=ar_MA.UTF-8\n")

    assert not spare.is_ready()
    spare.swap(WipeReport())

    assert (guest.home / ".bashrc").read_text() == "export LANG=ar_MA.UTF-8\n"


def test_home_of_100000_files_is_swapped_then_wiped(
    spare: SpareHome, guest: GuestAccount, skeleton: Path
) -> None:
    for part in range(10):
        make_files(guest.home / ".cache" / "chromium" / f"Cache_{part}", 10_000)
    spare.prepare()
    report = WipeReport()

    started = time.monotonic()
    trash = spare.swap(report)
    swapped_ms = (time.monotonic() - started) * 1000
    assert trash is not None
    wipe_trash(trash, report, "home")
    wiped_ms = (time.monotonic() - started) * 1000

    print(f"100,000 files: swapped in {swapped_ms:.1f} ms, wiped in {wiped_ms:.0f} ms")
    assert home_leftovers(guest, skeleton) == []
    assert trash_left_in(guest.home.parent) == []
    assert report.clean
    assert report.removed_files >= 100_000 + 10


def test_a_home_that_is_a_mount_point_is_never_moved(spare: SpareHome, guest: GuestAccount) -> None:
    with mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=guest.home):
        (guest.home / "on-the-mount").write_text("x")
        with pytest.raises(HomeError, match="is a mount point"):
            spare.swap(WipeReport())
        still_there = (guest.home / "on-the-mount").read_text()

    assert still_there == "x"
    assert trash_left_in(guest.home.parent) == []


def test_a_tampered_spare_area_is_refused(spare: SpareHome) -> None:
    spare.area.symlink_to("/etc")
    try:
        with pytest.raises(HomeError, match="not a root-only directory"):
            spare.prepare()
    finally:
        spare.area.unlink()
    assert Path("/etc/passwd").exists()
