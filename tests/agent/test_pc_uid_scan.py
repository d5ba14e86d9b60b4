"""The last proof (agent/pc/uid_scan.py): anything the guest's uid owns outside the reset areas.

Each test walks its own directory tree, a stand-in for one local filesystem, with real owners.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from guest_testkit import throwaway_guest
from wipe_testkit import mounted

from agent.pc.guest import GuestAccount
from agent.pc.uid_scan import FOUND, find_guest_files, local_roots


def owned(path: Path, account: GuestAccount, *, directory: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        path.mkdir()
    else:
        path.write_text("the resident's")
    os.chown(path, account.uid, account.gid, follow_symlinks=False)
    return path


@pytest.fixture
def fs(tmp_path: Path) -> Path:
    root = tmp_path / "fs"
    (root / "var" / "games").mkdir(parents=True)
    os.chmod(root / "var" / "games", 0o1777)  # noqa: S103 - a world-writable dir an app made
    (root / "etc").mkdir()
    (root / "etc" / "hostname").write_text("pc-accueil-1\n")
    return root


def test_the_guests_files_outside_the_reset_areas_are_found(guest: GuestAccount, fs: Path) -> None:
    forgotten = owned(fs / "var" / "games" / "scores-marie.txt", guest)
    hidden_dir = owned(fs / "var" / "games" / ".cache", guest, directory=True)
    inside = owned(hidden_dir / "deep" / "file", guest)
    home = owned(fs / "home" / guest.name, guest, directory=True)
    owned(home / "Documents" / "fresh.odt", guest)  # the next resident's, in a reset area
    with throwaway_guest() as colleague:
        owned(fs / "var" / "games" / "colleague.txt", colleague)

        found = find_guest_files(guest, [home], roots=[fs])

    assert sorted(left.path for left in found) == sorted(
        str(path) for path in (forgotten, hidden_dir, inside)
    )
    assert {(left.area, left.reason) for left in found} == {("uid-scan", FOUND)}


def test_links_are_not_followed(guest: GuestAccount, fs: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    owned(elsewhere / "theirs.txt", guest)
    (fs / "etc" / "to-elsewhere").symlink_to(elsewhere)  # root's link into the guest's files

    assert find_guest_files(guest, [], roots=[fs]) == []


def test_another_mount_is_never_entered(guest: GuestAccount, fs: Path) -> None:
    share = fs / "srv" / "share"
    share.mkdir(parents=True)
    with mounted("-t", "tmpfs", "tmpfs", target=share):
        owned(share / "on-another-filesystem.txt", guest)

        found = find_guest_files(guest, [], roots=[fs])

    assert found == []


def test_a_scan_cut_short_by_its_limit_is_a_leftover(guest: GuestAccount, fs: Path) -> None:
    for number in range(20):
        (fs / "etc" / f"dir-{number}").mkdir()
        (fs / "etc" / f"dir-{number}" / "file").write_text("x")

    [left] = find_guest_files(guest, [], roots=[fs], max_entries=5)

    assert left.area == "uid-scan" and "the rest is unchecked" in left.reason


def test_the_local_filesystems_are_read_from_the_mount_table(tmp_path: Path) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(
        "".join(
            f"{n} 1 0:{n} / {point} rw - {fstype} src rw\n"
            for n, (point, fstype) in enumerate(
                [
                    ("/", "ext4"),
                    ("/proc", "proc"),
                    ("/sys", "sysfs"),
                    ("/sys/fs/cgroup", "tmpfs"),
                    ("/dev", "devtmpfs"),
                    ("/run", "tmpfs"),
                    ("/home", "btrfs"),
                    ("/boot/efi", "vfat"),
                    ("/srv/archives", "nfs4"),
                    ("/run/user/1001/gvfs", "fuse.gvfsd-fuse"),
                    (r"/media/bgtest/CL\040USB", "vfat"),
                    ("/snap/core22/1380", "squashfs"),
                ],
                start=20,
            )
        )
    )

    assert local_roots(table) == [Path("/"), Path("/home"), Path("/run")]
