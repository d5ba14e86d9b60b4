"""Agent upgrades: the release the controller names, into the agent's own virtual environment.

An ``update_config`` whose ``agent_version`` is not the running one starts :meth:`AgentUpgrade.
start`; the agent then re-executes itself (same PID, so systemd sees no stop) and the new
version answers the command once the controller acknowledged what it sent. What can go wrong,
and what answers it:

- the download is cut or altered: the wheel's SHA-256 and size are checked against the
  controller's :class:`~agent.protocol.AgentRelease` before anything else happens;
- ``pip`` fails halfway (a dependency the host does not have: it installs with ``--no-index``,
  public places' PCs often have no internet): the snapshot of the environment taken just before
  goes back, the running process never restarted, and the command fails saying what pip said;
- the new version crashes at import, or runs but never reaches the controller: the guard
  (:mod:`agent.upgrade_guard`, a separate process that needs nothing from the environment being
  replaced) puts the snapshot back after ``upgrade_timeout_s`` and starts the agent again; that
  previous version answers the command "failed" and puts its previous settings back
  (:func:`settle`);
- the PC is switched off in the middle: the marker is on disk, and the next start either
  finishes the job (the new version is there: a new guard watches it) or reports the failure.

The wheel's dependencies come from the environment itself: a release that needs a new library
fails cleanly at ``pip`` (re-provision such hosts with ``borne provision bootstrap``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent import upgrade_guard
from agent.protocol import AgentRelease, UpdateConfigArgs, from_builtins, to_builtins
from agent.transport import TransportError

log = logging.getLogger(__name__)

UPGRADE_DIR = "upgrade"
MARKER_FILE = "pending.json"
GUARD_FILE = "guard.py"
GUARD_UNIT = "borne-agent-upgrade-guard"
PIP_TIMEOUT_S = 600
# The unit ``borne provision bootstrap`` and the Ansible role install.
SYSTEMD_RUNTIME = Path("/run/systemd/system")


class UpgradeFailed(Exception):
    """The upgrade did not happen; the running version and its environment are unchanged."""


class ReleaseSource(Protocol):
    """Where the agent gets a release: the controller's HTTP API (:class:`~agent.transport.
    HttpChannel`). Both raise :class:`~agent.transport.TransportError`."""

    def release(self, version: str) -> AgentRelease: ...

    def download_release(self, version: str, target: Path) -> None: ...


@dataclass(frozen=True)
class Installation:
    """Where and how this agent runs: what an upgrade replaces and restarts."""

    venv: Path  # sys.prefix
    python: Path  # the environment's interpreter
    base_python: Path  # the interpreter the environment was made from (runs the guard)
    argv: tuple[str, ...]  # what starts this agent again (re-exec, or the guard's restart)
    systemd_unit: str  # "borne-agent.service" under systemd, else ""

    @classmethod
    def current(cls) -> Installation:
        return cls(
            venv=Path(sys.prefix),
            python=Path(sys.executable),
            base_python=Path(getattr(sys, "_base_executable", sys.executable)),
            argv=(sys.executable, *sys.orig_argv[1:]),
            systemd_unit=_systemd_unit(),
        )

    @property
    def in_own_environment(self) -> bool:
        return (self.venv / "pyvenv.cfg").is_file()  # what makes a folder a venv (PEP 405)

    @property
    def from_source_checkout(self) -> bool:
        """borne is installed in editable mode (``pip install -e``, a developer's or the demo's
        environment): a wheel would replace the link to the checkout, so it is upgraded with git."""
        for found in self.venv.glob("lib/python*/site-packages/borne-*.dist-info/direct_url.json"):
            try:
                if json.loads(found.read_text()).get("dir_info", {}).get("editable"):
                    return True
            except (OSError, ValueError):
                continue
        return False

    @property
    def previous_venv(self) -> Path:
        return self.venv.with_name(self.venv.name + ".borne-previous")


class AgentUpgrade:
    """Download, check, snapshot, install and hand over to the guard (see the module's doc)."""

    def __init__(
        self,
        state_dir: Path,
        source: ReleaseSource,
        *,
        running_version: str,
        timeout_s: int,
        installation: Installation | None = None,
        start_guard: Callable[[Path, Installation], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.folder = Path(state_dir) / UPGRADE_DIR
        self.source = source
        self.running_version = running_version
        self.timeout_s = timeout_s
        self.installation = installation or Installation.current()
        self.start_guard = start_guard or start_guard_process
        self._clock = clock

    @property
    def marker_path(self) -> Path:
        return self.folder / MARKER_FILE

    def wanted(self, update: UpdateConfigArgs) -> bool:
        return update.agent_version is not None and update.agent_version != self.running_version

    def start(self, version: str, command_id: str, previous: UpdateConfigArgs) -> None:
        """Install ``version`` and leave the marker and its guard; the caller re-executes the
        agent next. Raises :class:`UpgradeFailed` with the reason, everything as it was."""
        where = self.installation
        if not where.in_own_environment:
            raise UpgradeFailed(
                "this agent does not run from its own virtual environment (as borne provision "
                "bootstrap installs it): upgrade it the way it was installed"
            )
        if where.from_source_checkout:
            raise UpgradeFailed(
                "this agent runs from a source checkout (pip install -e): upgrade it with git"
            )
        self.folder.mkdir(mode=0o700, exist_ok=True)
        wheel = self._download(version)
        self._snapshot()
        try:
            self._install(wheel)
            installed = self._installed_version()
            if installed != version:
                raise UpgradeFailed(f"pip installed borne {installed or '?'}, not {version}")
        except UpgradeFailed:
            self._restore_snapshot()
            raise
        self._write_marker(version, command_id, previous)
        try:
            self.start_guard(self.marker_path, where)
        except (OSError, subprocess.CalledProcessError) as exc:
            self._restore_snapshot()
            self.marker_path.unlink(missing_ok=True)
            said = getattr(exc, "stderr", b"") or b""
            raise UpgradeFailed(
                f"could not start the upgrade's guard: {exc} {said.decode(errors='replace')}"
            ) from exc
        log.info("borne %s installed; restarting into it", version)

    # -- steps --------------------------------------------------------------------------------

    def _download(self, version: str) -> Path:
        try:
            release = self.source.release(version)
        except TransportError as exc:
            raise UpgradeFailed(f"the controller has no release {version} for us: {exc}") from exc
        if release.version != version or "/" in release.filename:
            raise UpgradeFailed(f"the controller answered release {release.version!r}")
        wheel = self.folder / release.filename
        try:
            self.source.download_release(version, wheel)
        except TransportError as exc:
            wheel.unlink(missing_ok=True)
            raise UpgradeFailed(f"downloading borne {version} failed: {exc}") from exc
        size, digest = wheel.stat().st_size, _sha256(wheel)
        if size != release.size or digest != release.sha256:
            wheel.unlink(missing_ok=True)
            raise UpgradeFailed(
                f"the wheel of borne {version} is not the one the controller described "
                f"({size} bytes, sha256 {digest[:12]}…; expected {release.size} bytes, "
                f"{release.sha256[:12]}…): nothing was installed"
            )
        return wheel

    def _snapshot(self) -> None:
        where = self.installation
        shutil.rmtree(where.previous_venv, ignore_errors=True)
        # cp -a keeps the environment's symlinks (bin/python) and modes as they are.
        done = subprocess.run(
            ["cp", "-a", str(where.venv), str(where.previous_venv)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            shutil.rmtree(where.previous_venv, ignore_errors=True)
            raise UpgradeFailed(f"could not keep a copy of the environment: {done.stderr.strip()}")

    def _install(self, wheel: Path) -> None:
        command = [
            str(self.installation.python),
            "-m",
            "pip",
            "install",
            "--no-index",  # dependencies from the environment itself; no internet needed
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            str(wheel),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise UpgradeFailed(f"pip did not finish within {PIP_TIMEOUT_S} s") from exc
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise UpgradeFailed("pip could not install it: " + " / ".join(said))

    def _installed_version(self) -> str:
        done = subprocess.run(
            [
                str(self.installation.python),
                "-I",
                "-c",
                "import importlib.metadata as m; print(m.version('borne'))",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    def _restore_snapshot(self) -> None:
        where = self.installation
        if not where.previous_venv.exists():
            return
        failed = where.venv.with_name(where.venv.name + ".borne-failed")
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(where.venv, failed)
        os.replace(where.previous_venv, where.venv)
        shutil.rmtree(failed, ignore_errors=True)

    def _write_marker(self, version: str, command_id: str, previous: UpdateConfigArgs) -> None:
        where = self.installation
        upgrade_guard.write_marker(
            self.marker_path,
            {
                "state": "restarting",
                "command_id": command_id,
                "from_version": self.running_version,
                "to_version": version,
                "started_at": self._clock(),
                "deadline": self._clock() + self.timeout_s,
                "timeout_s": self.timeout_s,
                "agent_pid": os.getpid(),
                "venv": str(where.venv),
                "previous_venv": str(where.previous_venv),
                "argv": list(where.argv),
                "systemd_unit": where.systemd_unit,
                "previous_settings": to_builtins(previous),
            },
        )


def reexec() -> None:
    """Become the new version: same PID (systemd sees no stop), same command line."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    where = Installation.current()
    os.execv(where.argv[0], list(where.argv))  # noqa: S606 (our own interpreter, our own argv)


def start_guard_process(marker_path: Path, where: Installation) -> None:
    """Start the guard on a copy of its file, by the base interpreter, outside the agent's
    control group when systemd runs it (see :mod:`agent.upgrade_guard`)."""
    guard = marker_path.with_name(GUARD_FILE)
    shutil.copyfile(upgrade_guard.__file__, guard)
    command = [str(where.base_python), "-I", str(guard), str(marker_path)]
    if where.systemd_unit:
        subprocess.run(
            ["systemd-run", "--quiet", "--collect", f"--unit={GUARD_UNIT}", *command],
            check=True,
            capture_output=True,
        )
        return
    log_file = open(marker_path.with_name("guard.log"), "ab")  # noqa: SIM115 (the child keeps it)
    with log_file:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,  # not killed with the agent's process group
        )


@dataclass(frozen=True)
class Settled:
    """What a start found of an upgrade: the command to answer, how, and the settings to put
    back (on a failure)."""

    command_id: str
    ok: bool
    output: str
    restore: UpdateConfigArgs | None


def settle(state_dir: Path, running_version: str) -> Settled | None:
    """At the agent's start, before it reads its settings: what an upgrade left, if anything.

    Returns the answer for the upgrade's command when it is known now — a rollback, or an
    interruption that left the previous version running. When the new version runs and has yet
    to reach the controller, returns None and leaves the marker for :func:`confirm`."""
    path = Path(state_dir) / UPGRADE_DIR / MARKER_FILE
    marker = upgrade_guard.read_marker(path)
    if marker is None:
        return None
    previous = _previous_settings(marker)
    command_id = str(marker.get("command_id", ""))
    if marker.get("state") == "rolled_back":
        path.unlink(missing_ok=True)
        return Settled(command_id, False, str(marker.get("reason", "rolled back")), previous)
    if running_version == marker.get("to_version"):
        # confirm() answers once the controller acknowledged this version. (Started again after
        # a power cut, with its guard gone, it stays: rolling back cannot bring a network back.)
        return None
    if _guard_alive(marker):
        return None  # the guard is bringing the previous version back, or watching the new one
    path.unlink(missing_ok=True)
    return Settled(
        command_id,
        False,
        f"the upgrade to borne {marker.get('to_version')} was interrupted; "
        f"borne {running_version} still runs",
        previous,
    )


def needs_confirmation(state_dir: Path, running_version: str) -> bool:
    marker = upgrade_guard.read_marker(Path(state_dir) / UPGRADE_DIR / MARKER_FILE)
    return (
        marker is not None
        and marker.get("state") == "restarting"
        and marker.get("to_version") == running_version
    )


def confirm(state_dir: Path, running_version: str) -> Settled | None:
    """The controller acknowledged this version's events: the upgrade is done. Removing the
    marker is what tells the guard; returns the command's answer (None if nothing was pending,
    or the guard already took over)."""
    path = Path(state_dir) / UPGRADE_DIR / MARKER_FILE
    marker = upgrade_guard.read_marker(path)
    if marker is None or marker.get("state") != "restarting":
        return None
    if marker.get("to_version") != running_version:
        return None
    path.unlink(missing_ok=True)
    _remove_snapshot(marker)
    return Settled(
        str(marker.get("command_id", "")),
        True,
        f"borne {running_version} running (was {marker.get('from_version')})",
        None,
    )


def _previous_settings(marker: dict[str, Any]) -> UpdateConfigArgs | None:
    try:
        value = from_builtins(marker.get("previous_settings") or {}, UpdateConfigArgs)
    except Exception:  # a marker from another version: nothing to put back is safer than a guess
        return None
    assert isinstance(value, UpdateConfigArgs)
    return value


def _guard_alive(marker: dict[str, Any]) -> bool:
    deadline = float(marker.get("deadline", 0))
    return time.time() < deadline + upgrade_guard.STOP_WAIT_S + 30


def _remove_snapshot(marker: dict[str, Any]) -> None:
    previous = marker.get("previous_venv")
    if previous:
        shutil.rmtree(str(previous), ignore_errors=True)


def _systemd_unit() -> str:
    """The service this process runs in when systemd runs it (``borne-agent.service``)."""
    if not SYSTEMD_RUNTIME.is_dir():
        return ""
    try:
        cgroup = Path("/proc/self/cgroup").read_text()
    except OSError:
        return ""
    for line in cgroup.splitlines():
        name = line.rpartition("/")[2]
        if name.endswith(".service"):
            return name
    return ""


def _sha256(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()
