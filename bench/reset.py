"""Reset of a public PC's guest: time until ready and until the data is gone, vs. rm -rf + cp -a.

Usage (as root, on the PC's real disk; a throwaway guest account is created and removed)::

    .venv/bin/python bench/reset.py                  # 10 MB, 500 MB and 5 GB profiles
    .venv/bin/python bench/reset.py --sizes 10MB,500MB

For each size a profile like a resident's is written into the guest's home — 80 % in many small
files of 4-64 KB (a browser cache), 20 % in three large ones (downloads) — then reset two ways:

* **swap** (borne): :class:`agent.pc.reset.GuestReset` — the home renamed into trash, a spare
  home renamed in, the trash deleted in a background thread at idle I/O priority. The other areas'
  cleaners (processes, jobs, print, media, network) are left out on both sides: this compares
  the home only;
* **plain**: ``rm -rf`` of the home, then ``cp -a`` of the skeleton and ``chown -R``.

"ready" is when the next resident can log in; "data gone" is when the old files are deleted.
The plain approach is ready only once the data is gone. The page cache is flushed (``sync``)
before each timing so writing the profile does not weigh on the reset.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "agent"))

from guest_testkit import throwaway_guest

from agent.pc.guest import GuestAccount
from agent.pc.home import SpareHome
from agent.pc.login import MemoryLogin
from agent.pc.report import Leftover, WipeReport
from agent.pc.reset import GuestAreas, GuestReset
from agent.pc.tmpfiles import TempAreas

SIZES = {"10MB": 10 * 10**6, "500MB": 500 * 10**6, "5GB": 5 * 10**9}
SMALL_SHARE = 0.8
LARGE_FILES = 3
FILES_PER_DIR = 1000
HEADROOM = 2 * 10**9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated: 10MB,500MB,5GB")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {', '.join(unknown)}: choose among {', '.join(SIZES)}")
    if os.geteuid() != 0:
        sys.exit("bench/reset.py must run as root (it creates a throwaway guest account)")
    need = max(SIZES[s] for s in sizes) + HEADROOM
    free = shutil.disk_usage("/home").free
    if free < need:
        sys.exit(
            f"not enough free space on /home: {free / 1e9:.1f} GB free, {need / 1e9:.1f} needed"
        )

    rows = []
    with tempfile.TemporaryDirectory(prefix="borne-bench-") as work, throwaway_guest() as guest:
        skeleton = make_skeleton(Path(work) / "skel")
        for size in sizes:
            rows.append((size, *measure(guest, skeleton, Path(work), SIZES[size])))
        SpareHome(guest, skeleton).discard(WipeReport())
    print_table(rows)


def measure(guest: GuestAccount, skeleton: Path, work: Path, size: int) -> tuple[float, ...]:
    files = fill_profile(guest, size)
    reset = GuestReset(
        guest_name=guest.name,
        skeleton=skeleton,
        login=MemoryLogin(),
        state_dir=work / "state",
        on_report=lambda report: None,
        temp_areas=TempAreas(dirs=(), run_user=work / "run-user"),
        areas=home_only(),
    )
    reset.spare_home(guest).prepare()  # steady state: the last reset prepared the spare
    os.sync()
    outcome = reset.reset_and_wait()
    report = reset.last_report
    if not outcome.ok or report is None:
        sys.exit(f"the swap reset failed: {outcome.output}")
    print(f"  swap: ready in {report.ready_ms} ms, data gone in {report.wipe_ms} ms", flush=True)

    fill_profile(guest, size)
    os.sync()
    started = time.monotonic()
    subprocess.run(["rm", "-rf", "--one-file-system", str(guest.home)], check=True)
    subprocess.run(["cp", "-a", str(skeleton), str(guest.home)], check=True)
    subprocess.run(["chown", "-R", f"{guest.uid}:{guest.gid}", str(guest.home)], check=True)
    plain_ms = (time.monotonic() - started) * 1000
    print(f"  plain: ready and data gone in {plain_ms:.0f} ms", flush=True)
    return files, report.ready_ms, report.wipe_ms, plain_ms


def fill_profile(guest: GuestAccount, size: int) -> int:
    """Write ``size`` bytes of a resident's profile into the home; the number of files."""
    rng = random.Random(size)
    block = os.urandom(64 * 1024)
    home = guest.home
    written = files = 0
    small_budget = int(size * SMALL_SHARE)
    last_shown = time.monotonic()
    print(f"{size / 1e6:,.0f} MB profile: writing …", flush=True)
    while written < small_budget:
        directory = home / ".cache" / "mozilla" / "cache2" / "entries" / f"{files // FILES_PER_DIR}"
        directory.mkdir(parents=True, exist_ok=True)
        length = rng.randint(4, 64) * 1024
        write_file(directory / f"{files:08X}", block[:length], guest)
        written += length
        files += 1
        if time.monotonic() - last_shown > 5:
            print(f"  {written / 1e6:,.0f} MB, {files:,} files", flush=True)
            last_shown = time.monotonic()
    downloads = home / "Downloads"
    downloads.mkdir(exist_ok=True)
    large = (size - written) // LARGE_FILES
    for i in range(LARGE_FILES):
        write_file(downloads / f"video-{i}.mp4", block, guest, repeat=max(1, large // len(block)))
        files += 1
    for root, dirs, _ in os.walk(home):
        for name in dirs:
            os.chown(Path(root, name), guest.uid, guest.gid)
    print(f"  {files:,} files written", flush=True)
    return files


def write_file(path: Path, data: bytes, guest: GuestAccount, repeat: int = 1) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(repeat):
            os.write(fd, data)
        os.fchown(fd, guest.uid, guest.gid)
    finally:
        os.close(fd)


def make_skeleton(path: Path) -> Path:
    (path / ".config" / "xfce4").mkdir(parents=True)
    (path / ".bashrc").write_text("PS1='$ '\n")
    (path / ".config" / "xfce4" / "xfce4-panel.xml").write_text("<panel/>\n")
    (path / "Bureau").mkdir()
    (path / "Bureau" / "Bienvenue.txt").write_text("Bienvenue à la médiathèque\n")
    return path


def home_only() -> GuestAreas:
    def nothing(guest: GuestAccount, report: WipeReport) -> None:
        return None

    def frozen(guest: GuestAccount) -> frozenset[int]:
        return frozenset()

    def none_left(guest: GuestAccount) -> list[Leftover]:
        return []

    cleaner: Callable[[GuestAccount, WipeReport], None] = nothing
    return GuestAreas(frozen, cleaner, cleaner, cleaner, cleaner, cleaner, (none_left,))


def print_table(rows: list[tuple[str, float, float, float, float]]) -> None:
    print()
    print(
        f"{'profile':>8} {'files':>9} | {'swap ready':>11} {'swap gone':>10} | "
        f"{'plain ready=gone':>16} | {'ready ratio':>11} {'gone ratio':>10}"
    )
    for size, files, ready, gone, plain in rows:
        print(
            f"{size:>8} {files:>9,.0f} | {ready:>8.0f} ms {gone:>7.0f} ms | {plain:>13.0f} ms | "
            f"{plain / max(ready, 1):>10.0f}x {plain / max(gone, 1):>9.2f}x"
        )
    print("ratio = plain / swap (higher: the swap is faster). Times in milliseconds.")


if __name__ == "__main__":
    main()
