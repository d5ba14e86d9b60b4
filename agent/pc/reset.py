"""One-click reset of a public PC's guest session: ready in constant time, wiped in the background.

The order is deliberate (each step closes a way the last resident could keep or hide data):

1. resolve the guest (:func:`~agent.pc.guest.resolve_guest` refuses root, system and staff
   accounts): a wrong setting stops here, nothing touched;
2. freeze the guest's processes: from now on they can neither write nor fork;
3. remove their cron and at jobs: nothing scheduled comes back after the reset;
4. unmount their media and anything mounted in the home: a mount is unmounted, never wiped;
5. swap the home for a fresh one (:mod:`agent.pc.home`, two renames, constant time), made from
   the site's skeleton — or, if it is missing, from ``/etc/skel`` or empty, and the report says
   so: the resident's data goes whatever the setup;
6. end the frozen processes, and any other process of the guest, and remove their System V
   IPC objects and POSIX message queues;
7. move their temporary files into root-only trash (:mod:`agent.pc.tmpfiles`);
8. cancel their print jobs and remove their lines from the print log, remove the network
   connections they added, the account's desktop settings, the guest's own journal, and the
   Bluetooth pairings made since setup;
9. scan what is reachable (:func:`~agent.pc.scan.scan_live_areas`) — *before* declaring the PC
   ready, since the display manager logs the guest in again right after, and a later scan would
   mistake the next resident's fresh session for leftovers; anything found locks the login;
10. ready: ``report.ready_ms``, the :class:`Outcome` goes back to whoever asked.

Then, in a background thread at idle I/O priority: delete the trash (and trash left by an earlier
run that crashed), record ``wipe_ms``, check the trash is gone, walk the local filesystems for
anything else the guest's uid owns (:mod:`agent.pc.uid_scan`: seconds, hence after "ready"; it
skips the areas reset above, where the next resident may already be working), prepare the next
spare home, lock the guest login if anything is left (or unlock it if this wipe was clean), and
hand the report to ``on_report``. One reset at a time, background included: a second one waits
for the first.
"""

from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import json
import logging
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from agent.actions import Outcome
from agent.pc import bluetooth, journal, page_log
from agent.pc.account_traces import remove_account_traces
from agent.pc.fresh_home import mark_fresh
from agent.pc.guest import GuestAccount, GuestRefused, resolve_guest
from agent.pc.home import SPARE_PREFIX, HomeError, SpareHome
from agent.pc.login import GuestLogin, LockKind
from agent.pc.report import Leftover, WipeReport, printable_path
from agent.pc.scan import AreaCheck, scan_live_areas, trash_leftovers
from agent.pc.tmpfiles import TempAreas, move_guest_temp_files
from agent.pc.wipe import WipeError, trash_left_in, wipe_trash

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 600.0
LAST_REPORT = "last-wipe.json"
RESET_LOCK = "reset.lock"
# Homes are made from this when the site's skeleton is missing (Debian's default home).
FALLBACK_SKELETON = Path("/etc/skel")
# ... or from this empty directory of the agent's state, when that is missing too.
EMPTY_SKELETON = "empty-skeleton"
GuestArea = Callable[[GuestAccount, WipeReport], None]
# Looks for the guest's files outside the areas (paths) the reset already took care of.
GuestFiles = Callable[[GuestAccount, Sequence[Path]], list[Leftover]]
T = TypeVar("T")


@dataclass(frozen=True)
class GuestAreas:
    """The cleaners of the areas other than the home and temporary files, and their checks."""

    freeze_processes: Callable[[GuestAccount], frozenset[int]]
    end_processes: GuestArea
    remove_scheduled_jobs: GuestArea
    unmount_media: GuestArea
    cancel_print_jobs: GuestArea
    remove_print_log: GuestArea
    remove_connections: GuestArea
    remove_journal: GuestArea
    remove_pairings: GuestArea
    checks: tuple[AreaCheck, ...]
    # The background's last proof (agent/pc/uid_scan.py).
    find_guest_files: GuestFiles


@dataclass(frozen=True)
class TracePlaces:
    """Where the system keeps traces of the guest outside its areas (tests use their own dirs)."""

    journal_dirs: tuple[Path, ...] = journal.JOURNAL_DIRS
    bluetooth_storage: Path = bluetooth.BLUETOOTH_STORAGE
    page_log: Path = page_log.PAGE_LOG
    scan_roots: tuple[Path, ...] | None = None  # None: every local filesystem of the PC


def system_areas(state_dir: Path, places: TracePlaces = TracePlaces()) -> GuestAreas:
    """The real cleaners (imported here, so the reset's own logic can be tested without them).

    ``state_dir`` holds the record of the staff's Bluetooth devices (``borne agent pc setup``).
    """
    from agent.pc import jobs, media, network, printing, processes, uid_scan

    staff_devices = Path(state_dir) / bluetooth.STAFF_DEVICES
    journal_dirs, storage = places.journal_dirs, places.bluetooth_storage
    print_log = places.page_log

    def remove_journal(guest: GuestAccount, report: WipeReport) -> None:
        journal.remove_guest_journal(guest, report, journal_dirs)

    def remove_pairings(guest: GuestAccount, report: WipeReport) -> None:
        # Real bluetoothd only for the real storage: a test's directory is not bluetoothd's.
        real = storage == bluetooth.BLUETOOTH_STORAGE
        forget = bluetooth.forget_with_bluetoothctl if real else None
        bluetooth.remove_guest_pairings(
            report, record=staff_devices, storage=storage, forget=forget
        )

    def remove_print_log(guest: GuestAccount, report: WipeReport) -> None:
        page_log.remove_guest_page_log(guest, report, print_log)

    def journal_left(guest: GuestAccount) -> list[Leftover]:
        return journal.guest_journal_left(guest, journal_dirs)

    def pairings_left(guest: GuestAccount) -> list[Leftover]:
        return bluetooth.guest_pairings_left(record=staff_devices, storage=storage)

    def print_log_left(guest: GuestAccount) -> list[Leftover]:
        return page_log.page_log_left(guest, print_log)

    def find_guest_files(guest: GuestAccount, reset_areas: Sequence[Path]) -> list[Leftover]:
        return uid_scan.find_guest_files(guest, reset_areas, roots=places.scan_roots)

    return GuestAreas(
        freeze_processes=processes.freeze_guest_processes,
        end_processes=processes.end_guest_processes,
        remove_scheduled_jobs=jobs.remove_scheduled_jobs,
        unmount_media=media.unmount_guest_media,
        cancel_print_jobs=printing.cancel_print_jobs,
        remove_print_log=remove_print_log,
        remove_connections=network.remove_guest_connections,
        remove_journal=remove_journal,
        remove_pairings=remove_pairings,
        checks=(
            processes.guest_processes_left,
            jobs.scheduled_jobs_left,
            printing.print_jobs_left,
            print_log_left,
            media.guest_mounts_left,
            network.guest_connections_left,
            journal_left,
            pairings_left,
        ),
        find_guest_files=find_guest_files,
    )


@dataclass(frozen=True)
class _Trash:
    path: Path
    area: str


class GuestReset:
    """:class:`agent.actions.SessionReset` for a public PC's guest account."""

    def __init__(
        self,
        *,
        guest_name: str,
        skeleton: Path,
        login: GuestLogin,
        state_dir: Path,
        on_report: Callable[[WipeReport], None],
        temp_areas: TempAreas | None = None,
        areas: GuestAreas | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        fallback_skeleton: Path = FALLBACK_SKELETON,
    ) -> None:
        if not guest_name:
            raise ValueError("guest_name is empty: set the name of the PC's guest account")
        self.guest_name = guest_name
        self.skeleton = Path(skeleton)
        self.fallback_skeleton = Path(fallback_skeleton)
        self.login = login
        self.state_dir = Path(state_dir)
        self.on_report = on_report
        self.temp_areas = temp_areas or TempAreas()
        self.areas = areas or system_areas(self.state_dir)
        self.busy_timeout_s = busy_timeout_s
        self.last_report: WipeReport | None = None
        # Held from the start of a reset to the end of its background wipe.
        self._busy = threading.Lock()
        # The same, across processes: the agent's daemon and `borne agent reset` at the PC.
        self._machine_lock = ResetLock(self.state_dir / RESET_LOCK)
        self._background: threading.Thread | None = None
        self._spares: dict[GuestAccount, SpareHome] = {}

    # -- SessionReset ----------------------------------------------------------------------------

    def reset(self) -> Outcome:
        """Make the PC ready for the next resident; the old data is deleted in the background."""
        if not self._busy.acquire(timeout=self.busy_timeout_s):
            return Outcome(False, "already resetting: try again in a moment")
        if not self._machine_lock.acquire(self.busy_timeout_s):
            self._busy.release()
            return Outcome(False, "already resetting (borne agent reset?): try again in a moment")
        handed_over = False
        try:
            try:
                guest = resolve_guest(self.guest_name)
            except GuestRefused as exc:
                return Outcome(False, f"reset refused: {exc}")
            report = WipeReport()
            self.last_report = report
            outcome, trashes = self._make_ready(guest, report)
            self._background = threading.Thread(
                target=self._finish,
                args=(guest, report, trashes),
                name="borne-wipe",
                daemon=True,  # an interrupted wipe is finished by the next run (stale trash)
            )
            self._background.start()
            handed_over = True
            return outcome
        finally:
            if not handed_over:
                self._machine_lock.release()
                self._busy.release()

    def reset_and_wait(self, timeout_s: float | None = None) -> Outcome:
        """:meth:`reset`, then wait for the background wipe (``borne agent reset``, tests)."""
        ready = self.reset()
        if not self.wait(timeout_s):
            return Outcome(False, f"{ready.output}\nthe wipe is still running")
        report = self.last_report
        if report is None or ready.output.startswith(("reset refused", "already resetting")):
            return ready
        return Outcome(ready.ok and report.clean, summary(report))

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the background wipe; False if it is still running after ``timeout_s``."""
        background = self._background
        if background is None:
            return True
        background.join(timeout_s)
        return not background.is_alive()

    def spare_home(self, guest: GuestAccount) -> SpareHome:
        """The guest's spare, built from the skeleton in force (a stale one is rebuilt)."""
        skeleton, _ = self.skeleton_in_force()
        spare = self._spares.get(guest)
        if spare is None or spare.skeleton != skeleton:
            spare = self._spares[guest] = SpareHome(guest, skeleton)
        return spare

    def skeleton_in_force(self) -> tuple[Path, str | None]:
        """What homes are made from now, and the report's line when it is not the site's.

        A missing skeleton (a PC set up by hand, a deleted directory) must not keep the last
        resident's home in place: the home is then made from ``/etc/skel``, or empty.
        """
        if self.skeleton.is_dir():
            return self.skeleton, None
        if self.fallback_skeleton.is_dir():
            return (
                self.fallback_skeleton,
                f"skeleton {self.skeleton} missing: home made from {self.fallback_skeleton}",
            )
        empty = self.state_dir / EMPTY_SKELETON
        empty.mkdir(parents=True, exist_ok=True, mode=0o700)
        return empty, f"skeleton {self.skeleton} and {self.fallback_skeleton} missing: empty home"

    # -- the steps -------------------------------------------------------------------------------

    def _make_ready(self, guest: GuestAccount, report: WipeReport) -> tuple[Outcome, list[_Trash]]:
        started = time.monotonic()
        areas = self.areas
        # Trash of an earlier run that stopped mid-wipe (a crash, a power cut) goes too.
        trashes = [_Trash(path, area) for path, area in self._stale_trash(guest)]
        _step(report, "processes", lambda: areas.freeze_processes(guest))
        _step(report, "cron", lambda: areas.remove_scheduled_jobs(guest, report))
        _step(report, "media", lambda: areas.unmount_media(guest, report))
        skeleton, instead = self.skeleton_in_force()
        if instead:
            report.did(instead)
        old_home = self._swap_home(guest, report)
        if old_home is not None:
            trashes.append(_Trash(old_home, "home"))
        _step(report, "processes", lambda: areas.end_processes(guest, report))
        for path in _step(report, "tmp", lambda: self._move_temp_files(guest, report)) or []:
            trashes.append(_Trash(path, "tmp"))
        _step(report, "print", lambda: areas.cancel_print_jobs(guest, report))
        _step(report, "print-log", lambda: areas.remove_print_log(guest, report))
        _step(report, "network", lambda: areas.remove_connections(guest, report))
        _step(report, "account", lambda: remove_account_traces(guest, report))
        _step(report, "journal", lambda: areas.remove_journal(guest, report))
        _step(report, "bluetooth", lambda: areas.remove_pairings(guest, report))
        found = _step(
            report,
            "scan",
            lambda: scan_live_areas(guest, skeleton, self.temp_areas, areas.checks),
        )
        # The cleaners report what their own check still finds: count each leftover once.
        report.leftovers += [left for left in found or [] if left not in report.leftovers]
        report.ready_ms = _ms_since(started)
        if report.leftovers:
            # Locked before the display manager can log anyone in to what is left.
            self.login.lock(lock_reason(report.leftovers))
            return Outcome(False, f"{summary(report)}\nthe guest login is locked"), trashes
        # For the display manager's check before the next login (agent/pc/fresh_home.py).
        _step(report, "home", lambda: mark_fresh(self.state_dir, guest))
        return Outcome(True, f"ready in {report.ready_ms} ms"), trashes

    def _swap_home(self, guest: GuestAccount, report: WipeReport) -> Path | None:
        try:
            return self.spare_home(guest).swap(report)
        except (HomeError, OSError) as exc:
            report.left("home", str(guest.home), f"the home was not swapped: {exc}")
            return None

    def _move_temp_files(self, guest: GuestAccount, report: WipeReport) -> list[Path]:
        return move_guest_temp_files(guest, report, self.temp_areas)

    def _reset_areas(self, guest: GuestAccount) -> list[Path]:
        """Where this reset already proved the guest gone, and the next resident may now be."""
        return [
            guest.home,
            guest.home.parent / f"{SPARE_PREFIX}{guest.name}",
            *trash_left_in(guest.home.parent),  # reported by trash_leftovers if not deleted
            *self.temp_areas.dirs,
            self.temp_areas.runtime_dir(guest),
        ]

    def _stale_trash(self, guest: GuestAccount) -> list[tuple[Path, str]]:
        stale = [(path, "home") for path in trash_left_in(guest.home.parent)]
        for temp_dir in self.temp_areas.dirs:
            stale += [(path, "tmp") for path in trash_left_in(temp_dir)]
        return stale

    # -- in the background ------------------------------------------------------------------------

    def _finish(self, guest: GuestAccount, report: WipeReport, trashes: list[_Trash]) -> None:
        try:
            lower_io_priority()
            started = time.monotonic()
            for trash in trashes:
                try:
                    wipe_trash(trash.path, report, trash.area)
                except (WipeError, OSError) as exc:
                    report.left(trash.area, str(trash.path), f"not deleted: {exc}")
            report.wipe_ms = report.ready_ms + _ms_since(started)
            parents = [guest.home.parent, *self.temp_areas.dirs]
            report.leftovers += trash_leftovers(parents, report.leftovers)
            found = _step(
                report,
                "uid-scan",
                lambda: self.areas.find_guest_files(guest, self._reset_areas(guest)),
            )
            report.leftovers += [left for left in found or [] if left not in report.leftovers]
            try:
                if self.spare_home(guest).prepare():
                    report.did("prepared the next fresh home")
            except (HomeError, OSError) as exc:
                # Not a leftover: the next reset builds the home on the spot, only slower.
                report.did(f"could not prepare the next fresh home: {exc}")
            self._lock_or_unlock(report)
            self._save(report)
            self.on_report(report)
        except Exception:
            log.exception("the background wipe failed")
            self.login.lock("the background wipe failed: see the agent's log")
        finally:
            self._machine_lock.release()
            self._busy.release()

    def _lock_or_unlock(self, report: WipeReport) -> None:
        if report.leftovers:
            self.login.lock(lock_reason(report.leftovers))
        elif self.login.locked_reason(LockKind.WIPE) is not None:
            # Only the wipe's reason: a technician's "out of service" holds until they lift it.
            self.login.unlock(kind=LockKind.WIPE)
            if self.login.locked_reason() is None:
                report.did("unlocked the guest login: this wipe was clean")
            else:
                report.did("this wipe was clean; the guest login stays locked: out of service")

    def _save(self, report: WipeReport) -> None:
        """The last report beside the agent's state, for ``borne agent pc status``."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.state_dir / LAST_REPORT
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(dataclasses.asdict(report), indent=1), encoding="utf-8")
        os.replace(temporary, target)


class ResetLock:
    """An exclusive ``flock`` on a file of the agent's state directory, held from the start of a
    reset to the end of its background wipe (released by the thread that finishes it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, timeout_s: float) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)
                continue
            self._fd = fd
            return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock


def _step(report: WipeReport, area: str, action: Callable[[], T]) -> T | None:
    """Run one area's cleaner; a failure is a leftover of that area, and the reset goes on."""
    try:
        return action()
    except Exception as exc:
        log.exception("reset step %s failed", area)
        report.left(area, "", f"failed: {exc}")
        return None


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def lock_reason(leftovers: Sequence[Leftover]) -> str:
    first = leftovers[0]
    more = f" (and {len(leftovers) - 1} more)" if len(leftovers) > 1 else ""
    return f"the wipe left {first.path or first.area}: {first.reason}{more}"


def summary(report: WipeReport) -> str:
    """A few lines for the person who asked for the reset."""
    lines = [
        f"ready in {report.ready_ms} ms, data gone in {report.wipe_ms} ms",
        f"removed {report.removed_files} entries, {report.removed_bytes / 1e6:.1f} MB",
        *report.actions,
    ]
    lines += [
        f"LEFT [{left.area}] {printable_path(left.path)}: {left.reason}"
        for left in report.leftovers
    ]
    return "\n".join(lines)


# -- idle I/O priority ----------------------------------------------------------------------------

# ioprio_set(2) has no libc wrapper: syscall numbers per architecture (asm/unistd.h).
_IOPRIO_SET = {"x86_64": 251, "i686": 289, "aarch64": 30, "riscv64": 30, "armv7l": 314}
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_CLASS_IDLE = 3
_IOPRIO_CLASS_SHIFT = 13


def lower_io_priority() -> bool:
    """Idle I/O class and nice 19 for the *calling thread* only; False where not available.

    With ``who = 0`` both calls apply to the calling task, which on Linux is this thread, so the
    agent's other threads (heartbeats, commands) keep their priority. The idle class is honoured
    by the BFQ scheduler; with mq-deadline or none it has no effect, and nice 19 still applies.
    """
    os.setpriority(os.PRIO_PROCESS, 0, 19)
    number = _IOPRIO_SET.get(platform.machine())
    if number is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    value = _IOPRIO_CLASS_IDLE << _IOPRIO_CLASS_SHIFT
    return int(libc.syscall(number, _IOPRIO_WHO_PROCESS, 0, value)) == 0
