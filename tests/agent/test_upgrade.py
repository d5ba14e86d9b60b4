"""Agent upgrades (agent/upgrade.py): a real virtual environment, real pip, real wheels.

The wheels are tiny stand-ins named ``borne`` (a dist-info and one module), so pip does in a
second what it does with the real one; the real one, end to end with a controller and the guard,
is tests/e2e/test_agent_upgrade.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import make_credentials

from agent import upgrade, upgrade_guard
from agent.daemon import build_agent
from agent.protocol import AgentRelease, CommandResult, UpdateConfigArgs
from agent.settings import AgentSettings, load_remote_settings
from agent.transport import TransportError


def make_wheel(folder: Path, version: str, *, requires: str = "") -> Path:
    """A valid wheel of a project named borne at ``version`` holding one module."""
    name = f"borne-{version}-py3-none-any.whl"
    info = f"borne-{version}.dist-info"
    files = {
        "borne_stub/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: borne\n"
        f"Version: {version}\n" + (f"Requires-Dist: {requires}\n" if requires else ""),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / name
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


class Releases:
    """The controller's releases, as the agent's HTTP channel gives them."""

    def __init__(self, wheels: list[Path]):
        self.wheels = {w.name.split("-")[1]: w for w in wheels}
        self.tampered: set[str] = set()

    def release(self, version: str) -> AgentRelease:
        if version not in self.wheels:
            raise TransportError(f"answered 404 not_found: no release {version}")
        wheel = self.wheels[version]
        data = wheel.read_bytes()
        return AgentRelease(
            version=version,
            filename=wheel.name,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )

    def download_release(self, version: str, target: Path) -> None:
        data = self.wheels[version].read_bytes()
        target.write_bytes(data + b"x" if version in self.tampered else data)


def installed_version(venv: Path) -> str:
    return subprocess.run(
        [
            venv / "bin" / "python",
            "-I",
            "-c",
            "import importlib.metadata as m; print(m.version('borne'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with pip and borne 1.0.0 in it, made once (ensurepip takes seconds)."""
    folder = tmp_path_factory.mktemp("base")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    wheel = make_wheel(folder, "1.0.0")
    subprocess.run(
        [venv / "bin/python", "-m", "pip", "install", "-q", "--no-index", wheel], check=True
    )
    return venv


@pytest.fixture
def venv(base_venv: Path, tmp_path: Path) -> Path:
    # Each test its own copy; a venv's scripts name its folder, but python -m pip does not care.
    copy = tmp_path / "agent-venv"
    subprocess.run(["cp", "-a", base_venv, copy], check=True)
    return copy


@pytest.fixture
def guards() -> list[Path]:
    return []


@pytest.fixture
def upgrader(venv: Path, tmp_path: Path, guards: list[Path]) -> Callable[..., upgrade.AgentUpgrade]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    releases = Releases(
        [
            make_wheel(wheels, "1.1.0"),
            make_wheel(wheels, "1.2.0", requires="not-a-real-package-xyz>=1"),
        ]
    )

    def make(**overrides: Any) -> upgrade.AgentUpgrade:
        values: dict[str, Any] = {
            "running_version": "1.0.0",
            "timeout_s": 60,
            "installation": upgrade.Installation(
                venv=venv,
                python=venv / "bin" / "python",
                base_python=Path(sys.executable),
                argv=("true",),
                systemd_unit="",
            ),
            "start_guard": lambda marker, where: guards.append(marker),
        }
        values.update(overrides)
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        made = upgrade.AgentUpgrade(state, releases, **values)
        made.releases = releases  # type: ignore[attr-defined]
        return made

    return make


def test_upgrade_installs_the_release_keeps_a_snapshot_and_hands_over_to_the_guard(
    upgrader: Callable[..., upgrade.AgentUpgrade], venv: Path, guards: list[Path]
) -> None:
    upgrading = upgrader()

    upgrading.start("1.1.0", "cmd-1", UpdateConfigArgs(heartbeat_interval_s=30))

    assert installed_version(venv) == "1.1.0"
    assert installed_version(upgrading.installation.previous_venv) == "1.0.0"
    marker = json.loads(upgrading.marker_path.read_text())
    assert marker["state"] == "restarting"
    assert (marker["command_id"], marker["from_version"], marker["to_version"]) == (
        "cmd-1",
        "1.0.0",
        "1.1.0",
    )
    assert marker["previous_settings"] == {"heartbeat_interval_s": 30}
    assert guards == [upgrading.marker_path]


def test_a_release_pip_cannot_install_leaves_the_environment_as_it_was(
    upgrader: Callable[..., upgrade.AgentUpgrade], venv: Path, guards: list[Path]
) -> None:
    upgrading = upgrader()

    with pytest.raises(upgrade.UpgradeFailed, match="pip could not install it"):
        upgrading.start("1.2.0", "cmd-2", UpdateConfigArgs())

    assert installed_version(venv) == "1.0.0"
    assert not upgrading.installation.previous_venv.exists()
    assert not upgrading.marker_path.exists() and guards == []


def test_a_wheel_that_is_not_the_one_described_is_not_installed(
    upgrader: Callable[..., upgrade.AgentUpgrade], venv: Path
) -> None:
    upgrading = upgrader()
    upgrading.releases.tampered.add("1.1.0")  # type: ignore[attr-defined]

    with pytest.raises(upgrade.UpgradeFailed, match="not the one the controller described"):
        upgrading.start("1.1.0", "cmd-3", UpdateConfigArgs())

    assert installed_version(venv) == "1.0.0"
    assert not upgrading.installation.previous_venv.exists()


def test_an_unknown_release_is_refused_with_the_controllers_answer(
    upgrader: Callable[..., upgrade.AgentUpgrade],
) -> None:
    with pytest.raises(upgrade.UpgradeFailed, match=r"no release 9\.9\.9"):
        upgrader().start("9.9.9", "cmd-4", UpdateConfigArgs())


def test_an_agent_outside_a_virtual_environment_refuses_to_upgrade(
    upgrader: Callable[..., upgrade.AgentUpgrade], tmp_path: Path
) -> None:
    system = upgrade.Installation(
        venv=tmp_path / "usr",
        python=Path(sys.executable),
        base_python=Path(sys.executable),
        argv=("true",),
        systemd_unit="",
    )

    with pytest.raises(upgrade.UpgradeFailed, match="own virtual environment"):
        upgrader(installation=system).start("1.1.0", "cmd-5", UpdateConfigArgs())


# -- the guard: a real process watching a real one ---------------------------------------------


def guarded_setup(tmp_path: Path, agent: subprocess.Popen[bytes], deadline_s: float) -> Path:
    venv, previous = tmp_path / "venv", tmp_path / "venv.borne-previous"
    venv.mkdir()
    (venv / "version").write_text("new")
    previous.mkdir()
    (previous / "version").write_text("old")
    folder = tmp_path / "state" / "upgrade"
    folder.mkdir(parents=True)
    marker = folder / "pending.json"
    restarted = tmp_path / "restarted"
    upgrade_guard.write_marker(
        marker,
        {
            "state": "restarting",
            "command_id": "cmd-9",
            "from_version": "1.0.0",
            "to_version": "1.1.0",
            "deadline": time.time() + deadline_s,
            "timeout_s": 2,
            "agent_pid": agent.pid,
            "venv": str(venv),
            "previous_venv": str(previous),
            "argv": [
                sys.executable,
                "-c",
                f"open({str(restarted)!r}, 'w').write('again'); import time; time.sleep(30)",
            ],
            "systemd_unit": "",
        },
    )
    return marker


def run_guard(marker: Path) -> subprocess.CompletedProcess[str]:
    guard = marker.with_name("guard.py")
    guard.write_text(Path(upgrade_guard.__file__).read_text())
    return subprocess.run(
        [sys.executable, "-I", guard, marker], capture_output=True, text=True, timeout=60
    )


def stop_restarted(marker: Path) -> None:
    pid_file = marker.with_name("agent.pid")
    if pid_file.exists():
        subprocess.run(["kill", pid_file.read_text().strip()], check=False)


def test_the_guard_rolls_back_a_version_that_does_not_come_back_in_time(tmp_path: Path) -> None:
    hung = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    marker = guarded_setup(tmp_path, hung, deadline_s=1)
    try:
        outcome = run_guard(marker)

        assert outcome.stdout.strip() == "upgrade rolled_back"
        assert hung.wait(timeout=10) != 0  # stopped by the guard
        assert (tmp_path / "venv" / "version").read_text() == "old"
        assert not (tmp_path / "venv.borne-previous").exists()
        said = json.loads(marker.read_text())
        assert said["state"] == "rolled_back"
        assert said["reason"] == "borne 1.1.0 did not come back within 2 s: rolled back to 1.0.0"
        restarted = tmp_path / "restarted"
        deadline = time.monotonic() + 10
        while not restarted.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert restarted.read_text() == "again"
    finally:
        hung.kill()
        stop_restarted(marker)


def test_the_guard_rolls_back_at_once_a_version_that_crashed(tmp_path: Path) -> None:
    crashed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    marker = guarded_setup(tmp_path, crashed, deadline_s=300)
    try:
        started = time.monotonic()
        outcome = run_guard(marker)

        assert outcome.stdout.strip() == "upgrade rolled_back"
        assert time.monotonic() - started < 60  # not the 300 s deadline
        assert "stopped before reaching the controller" in json.loads(marker.read_text())["reason"]
        assert (tmp_path / "venv" / "version").read_text() == "old"
    finally:
        stop_restarted(marker)


def test_the_guard_leaves_a_confirmed_upgrade_alone(tmp_path: Path) -> None:
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    marker = guarded_setup(tmp_path, running, deadline_s=300)
    try:
        marker.unlink()  # what the new version does once the controller acknowledged it

        assert run_guard(marker).stdout.strip() == "upgrade confirmed"
        assert running.poll() is None
        assert (tmp_path / "venv" / "version").read_text() == "new"
    finally:
        running.kill()
        running.wait()


# -- at the next start: who answers the upgrade's command -------------------------------------


def write_marker(state_dir: Path, **fields: Any) -> Path:
    folder = state_dir / upgrade.UPGRADE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / upgrade.MARKER_FILE
    values: dict[str, Any] = {
        "state": "restarting",
        "command_id": "cmd-7",
        "from_version": "1.0.0",
        "to_version": "1.1.0",
        "deadline": time.time() + 300,
        "timeout_s": 300,
        "previous_venv": str(state_dir / "nothing"),
        "previous_settings": {"heartbeat_interval_s": 30},
    }
    values.update(fields)
    upgrade_guard.write_marker(marker, values)
    return marker


def spooled_results(agent: Any) -> list[CommandResult]:
    batch = agent.spool.pending_batch()
    return [e for e in (batch.events if batch else []) if isinstance(e, CommandResult)]


def test_the_rolled_back_version_answers_failed_and_puts_its_settings_back(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent import daemon

    monkeypatch.setattr(daemon, "agent_version", lambda: "1.0.0")
    state_dir.mkdir(mode=0o700, exist_ok=True)
    (state_dir / "remote-settings.json").write_text(
        json.dumps({"heartbeat_interval_s": 5, "agent_version": "1.1.0"})
    )
    marker = write_marker(state_dir, state="rolled_back", reason="borne 1.1.0 did not come back")

    agent = build_agent(
        AgentSettings(state_dir=state_dir, actions="simulated"),
        make_credentials("http://127.0.0.1:1"),
    )
    try:
        [result] = spooled_results(agent)
        assert (result.command_id, result.ok) == ("cmd-7", False)
        assert result.output == "borne 1.1.0 did not come back"
        assert load_remote_settings(state_dir) == UpdateConfigArgs(heartbeat_interval_s=30)
        assert agent.heartbeat_interval_s == 30
        assert not marker.exists()
    finally:
        agent.link.close()
        agent.spool.close()


def test_the_new_version_answers_done_once_the_controller_acknowledged_it(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent import daemon

    monkeypatch.setattr(daemon, "agent_version", lambda: "1.1.0")
    snapshot = state_dir / "venv.borne-previous"
    snapshot.mkdir(parents=True)
    marker = write_marker(state_dir, previous_venv=str(snapshot))

    agent = build_agent(
        AgentSettings(state_dir=state_dir, actions="simulated"),
        make_credentials("http://127.0.0.1:1"),
    )
    try:
        assert spooled_results(agent) == [] and marker.exists()  # not before it came back

        assert agent.link.on_acknowledged is not None
        agent.link.on_acknowledged()

        [result] = spooled_results(agent)
        assert (result.command_id, result.ok) == ("cmd-7", True)
        assert result.output == "borne 1.1.0 running (was 1.0.0)"
        assert not marker.exists() and not snapshot.exists()
    finally:
        agent.link.close()
        agent.spool.close()


def test_an_update_config_for_the_running_version_changes_only_the_settings(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent import daemon

    monkeypatch.setattr(daemon, "agent_version", lambda: "1.0.0")
    agent = build_agent(
        AgentSettings(state_dir=state_dir, actions="simulated"),
        make_credentials("http://127.0.0.1:1"),
    )
    try:
        assert agent.commands is not None
        output = agent.commands.apply_config(
            UpdateConfigArgs(agent_version="1.0.0", heartbeat_interval_s=20)
        )

        assert "heartbeat" in output
        assert not agent.restart_requested
        assert not (state_dir / upgrade.UPGRADE_DIR / upgrade.MARKER_FILE).exists()
    finally:
        agent.link.close()
        agent.spool.close()


def test_an_upgrade_that_cannot_start_fails_the_command_and_keeps_the_previous_settings(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent import daemon
    from agent.commands import SettingsNotApplied

    monkeypatch.setattr(daemon, "agent_version", lambda: "1.0.0")
    agent = build_agent(
        AgentSettings(state_dir=state_dir, actions="simulated", heartbeat_interval_s=10),
        make_credentials("http://127.0.0.1:1"),  # nobody answers there
    )
    try:
        assert agent.commands is not None
        with pytest.raises(SettingsNotApplied, match="previous settings are kept"):
            agent.commands.apply_config(
                UpdateConfigArgs(agent_version="1.1.0", heartbeat_interval_s=20)
            )

        assert load_remote_settings(state_dir).heartbeat_interval_s is None
        assert agent.heartbeat_interval_s == 10
        assert not agent.restart_requested
    finally:
        agent.link.close()
        agent.spool.close()


def test_a_guard_that_cannot_start_undoes_the_install(
    upgrader: Callable[..., upgrade.AgentUpgrade], venv: Path
) -> None:
    def refused(marker: Path, where: upgrade.Installation) -> None:
        raise subprocess.CalledProcessError(1, ["systemd-run"], stderr=b"Unit already exists")

    upgrading = upgrader(start_guard=refused)

    with pytest.raises(upgrade.UpgradeFailed, match="Unit already exists"):
        upgrading.start("1.1.0", "cmd-6", UpdateConfigArgs())

    assert installed_version(venv) == "1.0.0"
    assert not upgrading.marker_path.exists()
    assert not upgrading.installation.previous_venv.exists()


def test_an_agent_installed_from_a_source_checkout_is_not_replaced_by_a_wheel(
    upgrader: Callable[..., upgrade.AgentUpgrade], venv: Path
) -> None:
    [info] = venv.glob("lib/python*/site-packages/borne-1.0.0.dist-info")
    (info / "direct_url.json").write_text(
        json.dumps({"url": "file:///src/borne", "dir_info": {"editable": True}})
    )

    with pytest.raises(upgrade.UpgradeFailed, match="source checkout"):
        upgrader().start("1.1.0", "cmd-8", UpdateConfigArgs())

    assert installed_version(venv) == "1.0.0"
