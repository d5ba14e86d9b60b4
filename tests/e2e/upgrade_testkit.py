"""What the end-to-end test of agent upgrades needs: releases of borne built from this tree, and
devices that run one from a virtual environment of their own, as a public PC does.

Three releases from copies of the source tree, only their version changed in pyproject.toml: the
tree's own (the *base* every device starts on), a *good* one above it, and a *broken* one above
both whose ``borne agent run`` exits at once, as a release that fails on the city's PCs would.
A device is a venv made with ``python3 -m venv`` and filled with ``pip install --no-index`` from a
wheelhouse (provisioning/wheelhouse.py, as ``borne provision`` fills a real host), a state
directory and an ``agent.toml``; its agent is ``<venv>/bin/borne agent run --config …``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
from packaging.version import Version

from agent.protocol import AGENT_VERSION_PATTERN
from provisioning.wheelhouse import IGNORED, SOURCE_FILES, SOURCE_PACKAGES, Target

SOURCE_TREE = Path(__file__).resolve().parents[2]
# The broken release's agent: whatever run() was, this one stops before doing anything.
BROKEN_RUN = """

def run(*args: object, **kwargs: object) -> int:  # replaces the real one
    raise SystemExit("broken on purpose: this release of borne cannot start its agent")
"""
# What a device's processes may inherit from the test's: not the project's own venv.
_NOT_INHERITED = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Set to a device's folder in its processes' environment, which the upgrade's guard and the
# agent it starts again inherit: how the test finds every process a device left.
DEVICE_MARK = "BORNE_E2E_DEVICE"


@dataclass(frozen=True)
class Release:
    version: str
    wheel: Path


@dataclass(frozen=True)
class Releases:
    base: Release  # the tree's version: what every device runs at first
    good: Release
    broken: Release  # its agent exits at start


def tree_version(root: Path = SOURCE_TREE) -> str:
    """The version in the tree's pyproject.toml."""
    with (root / "pyproject.toml").open("rb") as source:
        return str(tomllib.load(source)["project"]["version"])


def versions_above(base: str, count: int) -> list[str]:
    """``count`` versions sorting above ``base``, each one an agent version the protocol
    accepts: 0.1.0 -> 0.1.0.post1, 0.1.0.post2."""
    parsed = Version(base)
    release = ".".join(str(part) for part in parsed.release)
    first = (parsed.post or 0) + 1 if parsed.pre is None and parsed.dev is None else 1
    found = [f"{release}.post{first + n}" for n in range(count)]
    for version in found:
        if not re.fullmatch(AGENT_VERSION_PATTERN, version) or Version(version) <= parsed:
            raise AssertionError(f"cannot make a release above {base}: {version} does not fit")
    return found


def build_releases(out: Path, root: Path = SOURCE_TREE) -> Releases:
    """The base, good and broken wheels of borne, built in parallel from copies of ``root``."""
    base = tree_version(root)
    good, broken = versions_above(base, 2)
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=3) as pool:
        wheels = pool.map(
            lambda plan: build_wheel(root, out, *plan),
            [(base, False), (good, False), (broken, True)],
        )
        base_wheel, good_wheel, broken_wheel = wheels
    return Releases(
        Release(base, base_wheel), Release(good, good_wheel), Release(broken, broken_wheel)
    )


def build_wheel(root: Path, out: Path, version: str, broken: bool) -> Path:
    """``pip wheel`` of a copy of ``root`` whose pyproject says ``version``; ``broken``: its
    agent exits at the start of ``borne agent run``."""
    with tempfile.TemporaryDirectory(prefix=f"borne-{version}-") as tmp:
        copy = Path(tmp) / "src"
        copy.mkdir()
        for name in SOURCE_FILES:
            shutil.copy2(root / name, copy / name)
        for package in SOURCE_PACKAGES:
            shutil.copytree(root / package, copy / package, ignore=IGNORED)
        pyproject = copy / "pyproject.toml"
        text, replaced = re.subn(
            r'^version = "[^"]+"$',
            f'version = "{version}"',
            pyproject.read_text(),
            count=1,
            flags=re.M,
        )
        assert replaced == 1, "pyproject.toml has no version line"
        pyproject.write_text(text)
        if broken:
            daemon = copy / "agent" / "daemon.py"
            daemon.write_text(daemon.read_text() + BROKEN_RUN)
        built = Path(tmp) / "out"
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps",
             "--wheel-dir", str(built), str(copy)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, f"building borne {version}: {result.stderr[-3000:]}"
        [wheel] = built.glob("borne-*.whl")
        return Path(shutil.copy2(wheel, out / wheel.name))


def local_target() -> Target:
    """This machine's interpreter and platform, as the wheelhouse names a host's."""
    libc, libc_version = platform.libc_ver()
    assert libc == "glibc", f"this machine's C library is {libc or 'unknown'}, not glibc"
    major, minor = (int(part) for part in libc_version.split(".")[:2])
    return Target(sys.version_info[:2], platform.machine(), (major, minor))


def device_env(folder: Path | None = None) -> dict[str, str]:
    """The environment of a device's commands: the machine's, without the project's venv (a
    device's agent finds its own environment from its own interpreter, as under systemd), and
    the device's mark. They also run outside the checkout, whose borne.egg-info a Python
    started there would read as the installed borne."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env["PATH"] = _SYSTEM_PATH
    if folder is not None:
        env[DEVICE_MARK] = str(folder)
    return env


class DeviceVenv:
    """A device's virtual environment, made as provisioning makes a host's."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def borne(self) -> str:
        return str(self.path / "bin" / "borne")

    def create(self, wheelhouse: Path, version: str) -> DeviceVenv:
        python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for command in (
            [str(python), "-m", "venv", str(self.path)],
            [str(self.path / "bin" / "python"), "-m", "pip", "install", "--no-index",
             "--find-links", str(wheelhouse), f"borne=={version}"],
        ):  # fmt: skip
            result = subprocess.run(
                command,
                env=device_env(),
                cwd=self.path.parent,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, f"{' '.join(command)}: {result.stderr[-3000:]}"
        return self

    def installed_version(self) -> str:
        """The version of borne installed in this venv, as its own Python reads it (isolated:
        the checkout's borne.egg-info in the current folder would answer instead)."""
        result = subprocess.run(
            [str(self.path / "bin" / "python"), "-I", "-c",
             "import importlib.metadata as m; print(m.version('borne'))"],
            env=device_env(), cwd=self.path, capture_output=True, text=True, timeout=60,
            check=True,
        )  # fmt: skip
        return result.stdout.strip()


class DeviceAgent:
    """A device's agent: its venv, its state directory and agent.toml, its process.

    It may run under two process ids in its life: the one the test started (kept across an
    upgrade: the agent re-executes itself), then, after a rollback, the one the upgrade's guard
    started and wrote in ``<state_dir>/upgrade/agent.pid``.
    """

    def __init__(self, folder: Path, venv: DeviceVenv) -> None:
        self.folder = folder
        self.venv = venv
        self.state_dir = folder / "state"
        self.config = folder / "agent.toml"
        self.log_path = folder / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    def configure(self, controller_url: str, **settings: object) -> None:
        lines = [
            "[agent]",
            f'controller_url = "{controller_url}"',
            f'state_dir = "{self.state_dir}"',
            *(f"{name} = {json.dumps(value)}" for name, value in settings.items()),
        ]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join(lines) + "\n")

    def enrol(self, controller_url: str, token: str) -> str:
        """``borne agent enrol`` with the device's own borne; its device id."""
        result = subprocess.run(
            [self.venv.borne, "agent", "enrol", "--controller", controller_url,
             "--kind", "pc", "--token", token, "--config", str(self.config)],
            env=device_env(), cwd=self.folder, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, f"enrolment: {result.stderr[-2000:]}"
        return self.device_id

    def remote_settings(self) -> dict[str, object]:
        """The settings the controller gave this agent, as it keeps them across restarts."""
        return dict(json.loads((self.state_dir / "remote-settings.json").read_text()))

    def venv_copies(self) -> list[str]:
        """What an upgrade left beside the venv (its snapshot, a failed install)."""
        return sorted(p.name for p in self.folder.glob(f"{self.venv.path.name}.*"))

    @property
    def device_id(self) -> str:
        return str(json.loads((self.state_dir / "credentials.json").read_text())["device_id"])

    def start(self) -> int:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [self.venv.borne, "agent", "run", "--config", str(self.config)],
            env=device_env(self.folder),
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self.process.pid

    def restarted_pid(self) -> int | None:
        """The process id the upgrade guard wrote when it started the agent again, if any."""
        try:
            return int((self.state_dir / "upgrade" / "agent.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def log(self, tail: int = 4000) -> str:
        """The end of the agent's logs: the test's process, the upgrade's guard and the agent
        the guard started again, those that exist."""
        upgrade = self.state_dir / "upgrade"
        return "".join(
            f"[{path.relative_to(self.folder)}]\n{path.read_text(errors='replace')[-tail:]}\n"
            for path in (self.log_path, upgrade / "guard.log", upgrade / "agent.log")
            if path.exists()
        )

    def processes(self) -> list[psutil.Process]:
        """Every live process of this device: its agent under any pid, the upgrade guard, a pip
        it runs. Recognised by the variable every one of them inherits, or by a command line
        naming this device's folder (unique to the test)."""
        mine = []
        for process in psutil.process_iter(["cmdline", "status"]):
            if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid == os.getpid():
                continue
            named = any(str(self.folder) in part for part in process.info["cmdline"] or ())
            if named or self._marked(process):
                mine.append(process)
        return mine

    def _marked(self, process: psutil.Process) -> bool:
        try:
            return process.environ().get(DEVICE_MARK) == str(self.folder)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            return False

    def stop(self) -> None:
        """End every process this device runs, the one the test started and any the upgrade
        started: SIGTERM, then SIGKILL to those still there, until none is left (a guard killed
        in the middle may have started an agent again)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        for _ in range(5):
            found = self.processes()
            if not found:
                return
            for process in found:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.terminate()
            _, left = psutil.wait_procs(found, timeout=10)
            for process in left:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
            psutil.wait_procs(left, timeout=10)
        left = [f"{p.pid} {' '.join(p.cmdline())}" for p in self.processes()]
        assert not left, f"processes of {self.folder} still running: {left}"


def alive(pid: int | None) -> bool:
    """Whether ``pid`` is a running process (a zombie is not)."""
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
