"""The guard of an agent upgrade: puts the previous version back when the new one does not come
back.

It runs as its own process, started by the agent just before it re-executes itself into the new
version (:mod:`agent.upgrade`), and it must outlive whatever that version does: crash at import,
loop without reaching the controller, be restarted by systemd again and again. So:

- it imports nothing but the standard library and runs from a *copy* of this file in the state
  folder, with the base interpreter (``python3 -I``): nothing it needs is inside the virtual
  environment being replaced;
- under systemd it is started in a transient unit of its own (``systemd-run``), since stopping
  or restarting ``borne-agent.service`` kills every process of the agent's control group;
- its whole state is the marker file the agent wrote (``upgrade/pending.json``): the new version
  deletes it once the controller acknowledged what it sent; the guard then has nothing to do.

If the marker is still there at its deadline (or, without systemd to restart it, the agent's
process is gone), the guard stops the agent, swaps the snapshot of the environment taken before
the upgrade back into place, writes why into the marker (``state: rolled_back``) and starts the
agent again: ``systemctl restart`` under systemd, else the same command line as a detached
process whose pid goes to ``upgrade/agent.pid``. That previous version reads the marker at
start, answers the upgrade's command "failed" with the reason, and puts its settings back.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

POLL_S = 0.5
STOP_WAIT_S = 10.0


def read_marker(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # being rewritten, or damaged: look again at the next poll
    return value if isinstance(value, dict) else None


def write_marker(path: Path, marker: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(marker, out, indent=1)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def is_running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) S ...": the state follows the last ")" (comm may hold spaces and parens).
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def watch(
    marker_path: Path,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] = time.sleep,
) -> str:
    """Wait for the upgrade's outcome; return ``"confirmed"`` or ``"rolled_back"``."""
    while True:
        marker = read_marker(marker_path)
        if marker is None or marker.get("state") != "restarting":
            return "confirmed"
        under_systemd = bool(marker.get("systemd_unit"))
        if clock() >= float(marker["deadline"]):
            roll_back(marker_path, marker, "did not come back within")
            return "rolled_back"
        if not under_systemd and not is_running(int(marker["agent_pid"])):
            roll_back(marker_path, marker, "stopped before reaching the controller, within")
            return "rolled_back"
        sleep(POLL_S)


def roll_back(marker_path: Path, marker: dict[str, Any], what: str) -> None:
    unit = str(marker.get("systemd_unit") or "")
    _stop_agent(unit, int(marker["agent_pid"]))
    venv, previous = Path(str(marker["venv"])), Path(str(marker["previous_venv"]))
    failed = venv.with_name(venv.name + ".borne-failed")
    shutil.rmtree(failed, ignore_errors=True)
    os.replace(venv, failed)
    os.replace(previous, venv)
    shutil.rmtree(failed, ignore_errors=True)
    marker["state"] = "rolled_back"
    marker["reason"] = (
        f"borne {marker['to_version']} {what} {marker['timeout_s']} s: "
        f"rolled back to {marker['from_version']}"
    )
    write_marker(marker_path, marker)
    _start_agent(marker_path.parent, unit, [str(part) for part in marker["argv"]])


def _stop_agent(unit: str, pid: int) -> None:
    if unit:
        subprocess.run(["systemctl", "stop", unit], check=False)
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_WAIT_S
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _start_agent(folder: Path, unit: str, argv: list[str]) -> None:
    if unit:
        subprocess.run(["systemctl", "reset-failed", unit], check=False)
        subprocess.run(["systemctl", "start", unit], check=False)
        return
    log = open(folder / "agent.log", "ab")  # noqa: SIM115 (the child keeps it)
    child = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
    )
    (folder / "agent.pid").write_text(f"{child.pid}\n")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: guard.py <state_dir>/upgrade/pending.json", file=sys.stderr)
        return 2
    outcome = watch(Path(argv[1]))
    print(f"upgrade {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
