"""The guest's temporary files: the real /tmp, /var/tmp and /dev/shm, files made by the guest."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from guest_testkit import run_as
from wipe_testkit import mounted, remove_wipe_traces

from agent.pc.guest import GuestAccount
from agent.pc.report import WipeReport
from agent.pc.scan import temp_leftovers
from agent.pc.tmpfiles import DEFAULT_TEMP_DIRS, TempAreas, move_guest_temp_files
from agent.pc.wipe import wipe_trash

NOBODY = 65534


@pytest.fixture
def areas(tmp_path: Path) -> Iterator[TempAreas]:
    run_user = tmp_path / "run-user"
    run_user.mkdir()
    yield TempAreas(dirs=DEFAULT_TEMP_DIRS, run_user=run_user)
    for temp_dir in DEFAULT_TEMP_DIRS:
        remove_wipe_traces(temp_dir)


@pytest.fixture
def tag() -> str:
    return f"borne-test-{secrets.token_hex(3)}"


def test_guest_files_go_and_other_users_files_stay(
    guest: GuestAccount, areas: TempAreas, tag: str
) -> None:
    shared = Path("/tmp") / f"{tag}-shared"  # root's, world-writable: only the guest's go
    shared.mkdir()
    os.chmod(shared, 0o1777)  # noqa: S103 - sticky like /tmp
    others = [Path("/tmp") / f"{tag}-root", Path("/var/tmp") / f"{tag}-nobody", shared / "root"]
    for path in others:
        path.write_text("not the guest's")
    os.chown(others[1], NOBODY, NOBODY)
    try:
        run_as(guest, "sh", "-c", f"echo a > /tmp/{tag}-a; mkdir -p /var/tmp/{tag}-d/x")
        run_as(guest, "sh", "-c", f"echo s > /dev/shm/{tag}-shm; echo b > {shared}/guest")
        run_as(guest, "ln", "-s", "/etc/passwd", f"/tmp/{tag}-link")
        report = WipeReport()

        trashes = move_guest_temp_files(guest, report, areas)

        assert temp_leftovers(guest, areas) == []
        for path in others:
            assert path.read_text() == "not the guest's"
        assert shared.is_dir() and os.listdir(shared) == ["root"]
        assert not any(
            Path(d, name).exists()
            for d in ("/tmp", "/var/tmp")
            for name in (f"{tag}-a", f"{tag}-d", f"{tag}-link")
        )
        assert not Path(f"/dev/shm/{tag}-shm").exists()
        for trash in trashes:
            wipe_trash(trash, report, "tmp")
        assert report.clean
        assert Path("/etc/passwd").stat().st_size > 0
    finally:
        for path in others:
            path.unlink(missing_ok=True)
        shared.rmdir()


def test_root_dirs_like_x11_unix_stay_and_the_guests_socket_inside_goes(
    guest: GuestAccount, areas: TempAreas, tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    (temp / ".X11-unix").mkdir(parents=True)
    os.chmod(temp, 0o1777)  # noqa: S103 - sticky like /tmp
    os.chmod(temp / ".X11-unix", 0o1777)  # noqa: S103 - sticky like /tmp
    (temp / ".X11-unix" / "X0").write_text("")
    os.chown(temp / ".X11-unix" / "X0", guest.uid, guest.gid)
    (temp / ".X11-unix" / "X1").write_text("")
    local = TempAreas(dirs=(temp,), run_user=areas.run_user)

    move_guest_temp_files(guest, WipeReport(), local)

    assert os.listdir(temp / ".X11-unix") == ["X1"]


def test_the_runtime_dir_is_emptied_in_place(guest: GuestAccount, areas: TempAreas) -> None:
    runtime = areas.runtime_dir(guest)
    runtime.mkdir(mode=0o700)
    os.chown(runtime, guest.uid, guest.gid)
    with mounted("-t", "tmpfs", "-o", f"size=1m,uid={guest.uid},mode=700", "tmpfs", target=runtime):
        (runtime / "pulse").mkdir()
        (runtime / "pulse" / "cookie").write_text("secret")
        report = WipeReport()

        move_guest_temp_files(guest, report, TempAreas(dirs=(), run_user=areas.run_user))

        assert runtime.is_dir() and os.listdir(runtime) == []
    assert report.clean
