"""The safe tree deleter: real files, real links, real mounts and attributes (run as root)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wipe_testkit import chattr, clear_attributes_under, make_files, mounted

from agent.pc.report import WipeReport
from agent.pc.scan import mount_points_under
from agent.pc.wipe import (
    ANOTHER_FILESYSTEM,
    TRASH_PREFIX,
    Trash,
    TreeWiper,
    WipeError,
    trash_left_in,
    wipe_trash,
)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """A tree to wipe, and an ``outside`` sibling that must survive; attributes undone after."""
    root = tmp_path / "home"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "precious.txt").write_text("keep me")
    yield root
    clear_attributes_under(tmp_path)


def wipe(path: Path, **kwargs: int) -> WipeReport:
    report = WipeReport()
    TreeWiper(report, "home", **kwargs).wipe_tree(path)
    return report


def test_symlink_to_outside_is_removed_and_its_target_kept(tree: Path) -> None:
    outside = tree.parent / "outside"
    (tree / "to-dir").symlink_to(outside)
    (tree / "to-file").symlink_to(outside / "precious.txt")
    (tree / "sub").mkdir()
    (tree / "sub" / "to-root").symlink_to("/")

    report = wipe(tree)

    assert not tree.exists()
    assert (outside / "precious.txt").read_text() == "keep me"
    assert report.clean
    assert report.removed_files == 5  # 3 links, sub, the root


def test_symlink_swapped_in_for_a_directory_is_not_followed(tree: Path) -> None:
    outside = tree.parent / "outside"
    (tree / "cache").mkdir()
    (tree / "cache" / "entry").write_text("cached")

    class RacingGuest(TreeWiper):
        """Swaps ``cache`` for a link to ``outside`` between the walker's lstat and its open."""

        def open_directory(self, parent_fd: int, name: bytes) -> int:
            if name == b"cache":
                os.rename(tree / "cache", tree.parent / "moved-away")
                os.symlink(outside, tree / "cache")
            return super().open_directory(parent_fd, name)

    report = WipeReport()
    RacingGuest(report, "home").wipe_tree(tree)

    assert (outside / "precious.txt").read_text() == "keep me"
    assert sorted(os.listdir(outside)) == ["precious.txt"]
    assert not tree.exists()
    assert report.clean


def test_hard_link_keeps_the_original_intact(tree: Path) -> None:
    original = tree.parent / "outside" / "precious.txt"
    os.link(original, tree / "linked.txt")
    (tree / "own.bin").write_bytes(b"y" * 10_000)
    own_disk_bytes = (tree / "own.bin").stat().st_blocks * 512

    report = wipe(tree)

    assert original.read_text() == "keep me"
    assert original.stat().st_nlink == 1
    assert not tree.exists()
    # Bytes are st_blocks * 512 of files whose last name went: the hard link frees nothing.
    assert report.removed_bytes == own_disk_bytes


def test_bind_mount_inside_is_not_entered_and_is_reported(tree: Path, tmp_path: Path) -> None:
    library = tmp_path / "library-share"
    library.mkdir()
    (library / "catalogue.csv").write_text("books")
    (tree / "share").mkdir()
    (tree / "notes.txt").write_text("mine")

    with mounted("--bind", str(library), target=tree / "share"):
        report = wipe(tree)
        still_mounted = tree / "share" in mount_points_under(tree)

    assert (library / "catalogue.csv").read_text() == "books"
    assert still_mounted
    assert not (tree / "notes.txt").exists()
    assert [(left.path, left.reason) for left in report.leftovers] == [
        (f"{tree}/share", ANOTHER_FILESYSTEM)
    ]


def test_another_filesystem_inside_is_not_entered(tree: Path) -> None:
    (tree / "usb").mkdir()
    with mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=tree / "usb"):
        (tree / "usb" / "photo.jpg").write_text("on the stick")
        report = wipe(tree)
        on_the_stick = (tree / "usb" / "photo.jpg").read_text()

    assert on_the_stick == "on the stick"
    assert [left.reason for left in report.leftovers] == [ANOTHER_FILESYSTEM]


def test_immutable_file_is_reported_and_the_rest_is_wiped(tree: Path) -> None:
    (tree / "Documents").mkdir()
    stuck = tree / "Documents" / "stuck.txt"
    stuck.write_text("cannot go")
    (tree / "Documents" / "letter.odt").write_text("goes")
    (tree / "z-last").write_text("goes too")
    chattr("+i", stuck)

    report = wipe(tree)

    assert stuck.exists()
    assert sorted(os.listdir(tree)) == ["Documents"]
    assert os.listdir(tree / "Documents") == ["stuck.txt"]
    [left] = report.leftovers
    assert left.path == str(stuck)
    assert "immutable (chattr +i)" in left.reason


def test_append_only_directory_is_reported(tree: Path) -> None:
    (tree / "log").mkdir()
    (tree / "log" / "a").write_text("a")
    chattr("+a", tree / "log")

    report = wipe(tree)

    assert (tree / "log" / "a").exists()
    assert [left.reason for left in report.leftovers] == [
        "its directory is immutable or append-only (chattr +i/+a; see lsattr -d)"
    ]


def test_names_with_newlines_and_invalid_utf8_are_removed(tree: Path) -> None:
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in (b"line\nbreak", b"caf\xe9-latin1", b"\xff\xfe", b"-rf", b"tab\there"):
            os.mkdir(name, dir_fd=fd)
            os.close(os.open(name + b"/" + name, os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)

    report = wipe(tree)

    assert not tree.exists()
    assert report.clean
    assert report.removed_files == 11


def test_undeletable_strange_name_is_reported_escaped(tree: Path) -> None:
    name = b"fake\nLEFT [home] etc-passwd \xff"
    path = os.fsencode(tree) + b"/" + name
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY))
    chattr("+i", Path(os.fsdecode(path)))

    report = wipe(tree)

    [left] = report.leftovers
    assert left.path == f"{tree}/fake\\nLEFT [home] etc-passwd \\xff"
    assert "\n" not in left.path


def test_deep_tree_does_not_hit_the_recursion_limit_and_keeps_few_fds(tree: Path) -> None:
    depth = sys.getrecursionlimit() + 500
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):  # deeper than PATH_MAX: only reachable through descriptors
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(os.open("f", os.O_CREAT | os.O_WRONLY, dir_fd=child))
        os.close(fd)
        fd = child
    os.close(fd)

    report = wipe(tree, max_open_dirs=8)

    assert not tree.exists()
    assert report.clean
    assert report.removed_files == 2 * depth + 1
    # No descriptor of the walk is left open (other threads of the test process may open or
    # close their own meanwhile: only those into the tree count).
    assert descriptors_into(tree) == []


def descriptors_into(tree: Path) -> list[str]:
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith(str(tree)):
            found.append(target)
    return found


def test_counts_removed_entries_and_disk_bytes(tree: Path) -> None:
    make_files(tree / "cache", 50, size=4096)
    disk_bytes = sum(path.stat().st_blocks * 512 for path in (tree / "cache").iterdir())

    report = wipe(tree)

    assert report.removed_files == 52  # 50 files, cache/, the root
    assert report.removed_bytes == disk_bytes >= 50 * 4096


def test_trash_is_root_only_and_takes_an_entry_in_one_rename(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "a").write_text("a")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        trash = Trash.create(tmp_path)
        moved = trash.take(fd, b"home")
    finally:
        os.close(fd)

    st = os.lstat(trash.path)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)
    assert (moved / "a").read_text() == "a"
    assert not (tmp_path / "home").exists()
    assert trash_left_in(tmp_path) == [trash.path]
    report = WipeReport()
    wipe_trash(trash.path, report, "home")
    assert trash_left_in(tmp_path) == []


def test_a_look_alike_trash_of_someone_else_is_not_ours(tmp_path: Path) -> None:
    fake = tmp_path / f"{TRASH_PREFIX}planted"
    fake.mkdir(mode=0o700)
    os.chown(fake, 65534, 65534)
    (tmp_path / f"{TRASH_PREFIX}link").symlink_to("/etc")

    assert trash_left_in(tmp_path) == []


@pytest.mark.parametrize("path", [Path("/"), Path("relative/home"), Path("/home/..")])
def test_a_path_that_is_not_one_entry_is_refused(path: Path) -> None:
    with pytest.raises(WipeError, match="refusing to wipe"):
        wipe(path)
