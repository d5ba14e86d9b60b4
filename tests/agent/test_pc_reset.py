"""The whole reset of a public PC's guest: a real account, real files, the real cleaners."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from guest_testkit import guest_processes, run_as, throwaway_guest
from wipe_testkit import (
    RESIDENT_TRACES,
    RecordingAreas,
    chattr,
    make_files,
    mounted,
    remove_wipe_traces,
    write_resident_traces,
    write_system_traces,
)

from agent.pc.guest import GuestAccount
from agent.pc.login import AccountExpiryLogin, MemoryLogin
from agent.pc.report import Leftover, WipeReport
from agent.pc.reset import GuestAreas, GuestReset, TracePlaces, system_areas
from agent.pc.scan import home_leftovers, mount_points_under
from agent.pc.tmpfiles import DEFAULT_TEMP_DIRS, TempAreas
from agent.pc.wipe import Trash, trash_left_in

Builder = Callable[..., GuestReset]


@pytest.fixture
def skeleton(tmp_path: Path) -> Path:
    skel = tmp_path / "skel"
    (skel / ".config").mkdir(parents=True)
    (skel / ".bashrc").write_text("PS1='$ '\n")
    (skel / ".config" / "user-dirs.dirs").write_text('XDG_DESKTOP_DIR="$HOME/Desktop"\n')
    return skel


@pytest.fixture
def temp_areas(tmp_path: Path) -> TempAreas:
    (tmp_path / "tmp").mkdir(mode=0o1777)
    os.chmod(tmp_path / "tmp", 0o1777)  # noqa: S103 - sticky like /tmp
    (tmp_path / "run-user").mkdir()
    return TempAreas(dirs=(tmp_path / "tmp",), run_user=tmp_path / "run-user")


@pytest.fixture
def real_areas(tmp_path: Path) -> GuestAreas:
    """The real cleaners, with the system's logs, pairings and filesystems in the test's dirs."""
    places = TracePlaces(
        journal_dirs=(tmp_path / "journal",),
        bluetooth_storage=tmp_path / "bluetooth",
        page_log=tmp_path / "cups" / "page_log",
        scan_roots=(tmp_path,),
    )
    return system_areas(tmp_path / "state", places)


@pytest.fixture
def build(
    guest: GuestAccount, skeleton: Path, temp_areas: TempAreas, tmp_path: Path
) -> Iterator[Builder]:
    """Builds a :class:`GuestReset` for the test's guest; undoes every trace afterwards."""
    built: list[GuestReset] = []

    def make(**overrides: Any) -> GuestReset:
        arguments: dict[str, Any] = {
            "guest_name": guest.name,
            "skeleton": skeleton,
            "login": MemoryLogin(),
            "state_dir": tmp_path / "state",
            "on_report": lambda report: None,
            "temp_areas": temp_areas,
            "areas": RecordingAreas().areas(),
            **overrides,
        }
        reset = GuestReset(**arguments)
        built.append(reset)
        return reset

    yield make
    for reset in built:
        reset.wait(60)
    for parent in (guest.home.parent, *temp_areas.dirs, *DEFAULT_TEMP_DIRS):
        remove_wipe_traces(parent, guest)


def test_a_reset_runs_every_step_in_order_and_sends_its_report(
    build: Builder, guest: GuestAccount, skeleton: Path, tmp_path: Path
) -> None:
    recorded = RecordingAreas()
    reports: list[WipeReport] = []
    (guest.home / "Documents").mkdir()
    (guest.home / "Documents" / "lettre.odt").write_text("private")
    reset = build(areas=recorded.areas(), on_report=reports.append)

    outcome = reset.reset_and_wait(60)

    assert outcome.ok, outcome.output
    assert recorded.calls == [
        *("freeze", "jobs", "media", "end", "print", "print-log", "network", "journal"),
        *("bluetooth", "check", "uid-scan"),
    ]
    [report] = reports
    assert report.clean and report.removed_files >= 3
    assert 0 < report.ready_ms <= report.wipe_ms
    assert home_leftovers(guest, skeleton) == []
    assert trash_left_in(guest.home.parent) == []
    assert (tmp_path / "state" / "last-wipe.json").exists()
    print(f"ready in {report.ready_ms} ms, wiped in {report.wipe_ms} ms")


@pytest.mark.parametrize("name", ["root", "daemon"])
def test_system_accounts_are_refused_and_nothing_is_touched(
    build: Builder, name: str, guest: GuestAccount
) -> None:
    recorded = RecordingAreas()
    (guest.home / "kept.txt").write_text("x")

    outcome = build(guest_name=name, areas=recorded.areas()).reset_and_wait(60)

    assert not outcome.ok
    assert outcome.output.startswith("reset refused:")
    assert recorded.calls == []
    assert (guest.home / "kept.txt").read_text() == "x"


def test_a_member_of_sudo_is_refused(build: Builder) -> None:
    with throwaway_guest() as staff:
        subprocess.run(["usermod", "-aG", "sudo", staff.name], check=True)
        (staff.home / "notes.txt").write_text("staff notes")
        recorded = RecordingAreas()

        outcome = build(guest_name=staff.name, areas=recorded.areas()).reset_and_wait(60)

        assert not outcome.ok and "sudo" in outcome.output
        assert recorded.calls == []
        assert (staff.home / "notes.txt").read_text() == "staff notes"


def test_an_immutable_file_is_reported_and_locks_the_login(
    build: Builder, guest: GuestAccount
) -> None:
    login = MemoryLogin()
    stuck = guest.home / "Downloads" / "stuck.pdf"
    stuck.parent.mkdir()
    stuck.write_text("cannot go")
    chattr("+i", stuck)
    reset = build(login=login)

    outcome = reset.reset_and_wait(60)

    assert not outcome.ok
    report = reset.last_report
    assert report is not None
    [left] = report.leftovers
    assert left.path.endswith(f"/{guest.name}/Downloads/stuck.pdf")
    assert "immutable (chattr +i)" in left.reason
    assert login.locked_reason() is not None and "immutable" in login.locked_reason()  # type: ignore[operator]
    # Staff remove the attribute: the next reset deletes what was left, and unlocks the login.
    [trash] = trash_left_in(guest.home.parent)
    chattr("-i", Path(trash, "0", guest.name, "Downloads", "stuck.pdf"))

    assert build(login=login).reset_and_wait(60).ok
    assert login.locked_reason() is None
    assert trash_left_in(guest.home.parent) == []


def test_a_real_wipe_that_leaves_a_file_expires_the_guest_account(
    build: Builder, guest: GuestAccount, tmp_path: Path, real_areas: GuestAreas
) -> None:
    login = AccountExpiryLogin(guest, tmp_path / "state")
    (tmp_path / "state").mkdir()
    (guest.home / ".bash_history").write_text("ls\n")
    chattr("+i", guest.home / ".bash_history")
    try:
        outcome = build(login=login, areas=real_areas).reset_and_wait(60)

        assert not outcome.ok
        assert "immutable" in (login.locked_reason() or "")
        shadow = subprocess.run(["chage", "-l", guest.name], capture_output=True, text=True)
        assert (
            "Account expires" in shadow.stdout
            and "never" not in shadow.stdout.split("Account expires")[1].splitlines()[0]
        )
        [trash] = trash_left_in(guest.home.parent)
        chattr("-i", Path(trash, "0", guest.name, ".bash_history"))
        assert build(login=login, areas=real_areas).reset_and_wait(60).ok
        assert login.locked_reason() is None
    finally:
        login.unlock()


def test_a_bind_mount_left_in_the_home_is_not_crossed_and_locks_the_login(
    build: Builder, guest: GuestAccount, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "catalogue.csv").write_text("books")
    (guest.home / "share").mkdir()
    login = MemoryLogin()
    reset = build(login=login)  # the fake media cleaner leaves the mount in place

    with mounted("--bind", str(library), target=guest.home / "share"):
        outcome = reset.reset_and_wait(60)
        [trash] = trash_left_in(guest.home.parent)
        still_mounted = mount_points_under(trash)

    assert (library / "catalogue.csv").read_text() == "books"
    assert still_mounted == [trash / "0" / guest.name / "share"]
    assert not outcome.ok and login.locked_reason() is not None
    assert "another filesystem is mounted here" in outcome.output


def test_a_bind_mount_in_the_home_is_unmounted_by_the_real_reset(
    build: Builder, guest: GuestAccount, skeleton: Path, tmp_path: Path, real_areas: GuestAreas
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "catalogue.csv").write_text("books")
    (guest.home / "share").mkdir()

    with mounted("--bind", str(library), target=guest.home / "share"):
        outcome = build(areas=real_areas).reset_and_wait(60)
        mounts_left = mount_points_under(guest.home.parent / guest.name)

    assert outcome.ok, outcome.output
    assert mounts_left == []
    assert (library / "catalogue.csv").read_text() == "books"
    assert home_leftovers(guest, skeleton) == []


def test_a_second_reset_while_one_is_wiping_reports_already_resetting(build: Builder) -> None:
    release = threading.Event()
    reset = build(on_report=lambda report: release.wait(30), busy_timeout_s=0)

    first = reset.reset()
    second = reset.reset()
    release.set()

    assert first.ok
    assert (second.ok, second.output) == (False, "already resetting: try again in a moment")
    assert reset.wait(30)


def test_a_reset_at_the_pc_waits_for_the_agents_reset_in_another_process(build: Builder) -> None:
    # Two GuestReset objects on one state directory: the daemon's and `borne agent reset`'s.
    release = threading.Event()
    daemon = build(on_report=lambda report: release.wait(30))
    at_the_pc = build(busy_timeout_s=0.2)

    first = daemon.reset()
    second = at_the_pc.reset()
    release.set()
    assert daemon.wait(30)
    third = at_the_pc.reset_and_wait(60)

    assert first.ok
    assert (second.ok, second.output) == (
        False,
        "already resetting (borne agent reset?): try again in a moment",
    )
    assert third.ok, third.output


def test_trash_of_an_interrupted_wipe_is_deleted_by_the_next_reset(
    build: Builder, guest: GuestAccount
) -> None:
    crashed = Trash.create(guest.home.parent)
    make_files(crashed.path / "0" / guest.name / ".cache", 200, size=4096)

    outcome = build().reset_and_wait(60)

    assert outcome.ok, outcome.output
    assert not crashed.path.exists()


def test_the_whole_reset_wipes_every_trace_of_a_resident(
    build: Builder, guest: GuestAccount, skeleton: Path, tmp_path: Path, real_areas: GuestAreas
) -> None:
    traces = write_resident_traces(guest)
    journal, pairing, page_log = write_system_traces(guest, tmp_path)
    run_as(guest, "sh", "-c", "echo x > /tmp/resident-tmp-$(id -u); echo y > /dev/shm/shm-$(id -u)")
    # A daemon the resident left behind: its own session, no terminal, still running.
    daemon = subprocess.Popen(
        ["sleep", "600"],
        user=guest.uid,
        group=guest.gid,
        extra_groups=[],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        reset = build(areas=real_areas, temp_areas=TempAreas())

        outcome = reset.reset_and_wait(120)
    finally:
        daemon.wait(30)

    assert outcome.ok, outcome.output
    for trace in traces:
        assert not trace.exists(), trace
    assert home_leftovers(guest, skeleton) == []
    assert guest_processes(guest.uid) == []
    assert not Path(f"/tmp/resident-tmp-{guest.uid}").exists()
    assert not Path(f"/dev/shm/shm-{guest.uid}").exists()
    assert not journal.exists() and not pairing.exists()
    assert guest.name not in page_log.read_text()
    assert reset.last_report is not None and reset.last_report.clean
    assert len(RESIDENT_TRACES) == len(traces)


def test_a_missing_skeleton_still_replaces_the_residents_home(
    build: Builder, guest: GuestAccount, tmp_path: Path
) -> None:
    debian_skel = tmp_path / "etc-skel"
    debian_skel.mkdir()
    (debian_skel / ".profile").write_text("# Debian's\n")
    (guest.home / "Documents").mkdir()
    (guest.home / "Documents" / "lettre.odt").write_text("private")
    missing = tmp_path / "guest-skel-never-made"
    reset = build(skeleton=missing, fallback_skeleton=debian_skel)

    outcome = reset.reset_and_wait(60)

    assert outcome.ok, outcome.output
    assert sorted(p.name for p in guest.home.iterdir()) == [".profile"]
    assert home_leftovers(guest, debian_skel) == []
    assert f"skeleton {missing} missing: home made from {debian_skel}" in outcome.output
    assert trash_left_in(guest.home.parent) == []


def test_without_any_skeleton_the_home_is_made_empty(
    build: Builder, guest: GuestAccount, tmp_path: Path
) -> None:
    (guest.home / "lettre.odt").write_text("private")
    reset = build(skeleton=tmp_path / "no-skel", fallback_skeleton=tmp_path / "no-etc-skel")

    outcome = reset.reset_and_wait(60)

    assert outcome.ok, outcome.output
    assert list(guest.home.iterdir()) == []
    assert guest.home.stat().st_uid == guest.uid
    assert "missing: empty home" in outcome.output


def test_what_the_last_scan_finds_locks_the_login_once_the_pc_is_ready(
    build: Builder, guest: GuestAccount, temp_areas: TempAreas
) -> None:
    left = Leftover("uid-scan", "/var/games/scores", "owned by the guest outside the reset areas")
    recorded = RecordingAreas(found_by_scan=[left])
    login = MemoryLogin()
    reset = build(areas=recorded.areas(), login=login)

    outcome = reset.reset_and_wait(60)

    assert not outcome.ok
    assert reset.last_report is not None and reset.last_report.leftovers == [left]
    assert "/var/games/scores" in (login.locked_reason() or "")
    for area in (guest.home, *temp_areas.dirs, temp_areas.runtime_dir(guest)):
        assert area in recorded.reset_areas


def test_a_file_the_guest_left_outside_its_areas_is_found_and_locks_the_login(
    build: Builder,
    guest: GuestAccount,
    tmp_path: Path,
    temp_areas: TempAreas,
    real_areas: GuestAreas,
) -> None:
    games = tmp_path / "var" / "games"
    games.mkdir(parents=True)
    forgotten = games / "scores-marie.txt"
    forgotten.write_text("Marie 1200")
    os.chown(forgotten, guest.uid, guest.gid)
    runtime = temp_areas.runtime_dir(guest)  # the guest's own, in a reset area: not a leftover
    runtime.mkdir()
    os.chown(runtime, guest.uid, guest.gid)
    login = MemoryLogin()
    reset = build(areas=real_areas, login=login)

    outcome = reset.reset_and_wait(60)

    assert not outcome.ok
    assert reset.last_report is not None
    assert [(left.area, left.path) for left in reset.last_report.leftovers] == [
        ("uid-scan", str(forgotten))
    ]
    assert login.locked_reason() is not None


class _Page(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.e2e
def test_a_real_firefox_profile_is_wiped(
    build: Builder, guest: GuestAccount, skeleton: Path, tmp_path: Path, real_areas: GuestAreas
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body><form><input name=q></form></body></html>")
    handler = functools.partial(_Page, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = guest.home / ".mozilla" / "firefox" / "e2e.default-esr"
    run_as(guest, "mkdir", "-p", str(profile))
    try:
        run_as(
            guest,
            *("firefox-esr", "--headless", "--profile", str(profile), "--screenshot"),
            *(str(guest.home / "shot.png"), f"http://127.0.0.1:{server.server_port}/"),
            timeout=120,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (profile / "places.sqlite").exists() or (profile / "prefs.js").exists()

    outcome = build(areas=real_areas).reset_and_wait(120)

    assert outcome.ok, outcome.output
    assert not (guest.home / ".mozilla").exists()
    assert home_leftovers(guest, skeleton) == []
