"""Unmounting the guest's media: real tmpfs and bind mounts, unmounted and left intact."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.pc.guest import GuestAccount
from agent.pc.media import guest_mounts_left, unmount_guest_media
from agent.pc.report import WipeReport


def is_mounted(path: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)], check=False).returncode == 0


@pytest.fixture
def mount() -> Iterator[Callable[..., Path]]:
    """``mount(*options, source, target)``; whatever is still mounted at the end is detached."""
    mounted: list[Path] = []

    def do_mount(*argv: str) -> Path:
        target = Path(argv[-1])
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *argv], check=True, capture_output=True)
        mounted.append(target)
        return target

    yield do_mount
    for target in reversed(mounted):
        while is_mounted(target):
            subprocess.run(["umount", "--lazy", str(target)], check=True)
    for target in reversed(mounted):  # the mount points made outside tmp_path and the home
        for directory in (target, target.parent):
            if directory.parent in (Path("/media"), Path("/run")) or directory == target:
                with contextlib.suppress(OSError):  # not empty: a parent still in use
                    directory.rmdir()


def test_the_guests_stick_and_share_are_unmounted_not_wiped(
    guest: GuestAccount, mount: Callable[..., Path], tmp_path: Path
) -> None:
    stick = mount("-t", "tmpfs", "borne-usb", f"/media/{guest.name}/CLÉ USB")
    (stick / "cv.odt").write_text("the resident's CV")
    shared = tmp_path / "admin-share"
    shared.mkdir()
    (shared / "planning.ods").write_text("the library's planning")
    share = mount("--bind", str(shared), str(guest.home / "Partage"))
    nested = mount("-t", "tmpfs", "borne-nested", str(share / "sous dossier"))
    report = WipeReport()

    unmount_guest_media(guest, report)

    assert not is_mounted(stick) and not is_mounted(share) and not is_mounted(nested)
    assert (shared / "planning.ods").read_text() == "the library's planning"
    assert guest_mounts_left(guest) == []
    assert report.clean
    assert f"unmounted /media/{guest.name}/CLÉ USB" in report.actions
    # Deepest first: the nested mount went before the share holding it.
    unmounted = [action.removeprefix("unmounted ") for action in report.actions]
    assert unmounted.index(str(nested)) < unmounted.index(str(share))


def test_the_stick_keeps_its_files(guest: GuestAccount, mount: Callable[..., Path]) -> None:
    image_dir = mount("-t", "tmpfs", "borne-images", f"/run/borne-test-{guest.name}")
    image = image_dir / "stick.img"
    subprocess.run(["truncate", "-s", "8M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    stick = mount("-o", "loop", str(image), f"/media/{guest.name}/USB")
    (stick / "photo.jpg").write_bytes(b"\xff\xd8 a resident's photo")

    unmount_guest_media(guest, WipeReport())

    assert not is_mounted(stick)
    again = mount("-o", "loop,ro", str(image), str(image_dir / "check"))
    assert (again / "photo.jpg").read_bytes() == b"\xff\xd8 a resident's photo"


def test_mounts_outside_the_guests_areas_stay(
    guest: GuestAccount, mount: Callable[..., Path], tmp_path: Path
) -> None:
    elsewhere = mount("-t", "tmpfs", "borne-elsewhere", str(tmp_path / "elsewhere"))
    lookalike = mount("-t", "tmpfs", "borne-lookalike", f"/media/{guest.name}-not-the-guest")

    unmount_guest_media(guest, WipeReport())

    assert is_mounted(elsewhere)
    assert is_mounted(lookalike)


def test_a_path_with_spaces_and_newlines_is_read_from_the_mount_table(
    guest: GuestAccount, mount: Callable[..., Path]
) -> None:
    odd = mount("-t", "tmpfs", "borne-odd", str(guest.home / "a b\\c\nd"))

    assert [leftover.path for leftover in guest_mounts_left(guest)] == [
        str(guest.home / "a b\\c\\nd")
    ]
    unmount_guest_media(guest, WipeReport())
    assert not is_mounted(odd)
