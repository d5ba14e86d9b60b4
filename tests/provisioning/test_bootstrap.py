"""The bootstrap's logic without SSH: the settings it writes, the hosts it refuses, and the
systemd steps this machine cannot run for real (no systemd as PID 1 here).

For the systemd steps the "host" is a temporary folder of this machine: :class:`LocalHost` runs
the bootstrap's shell commands with ``sh``, a ``systemctl`` that records its calls and keeps
enabled/active as files, and an installed agent whose ``borne agent enrol`` only writes the
credentials. The real thing over a real sshd is in test_live_bootstrap.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from agent.protocol import DeviceKind
from agent.settings import load_agent_settings
from provisioning.bootstrap import (
    READ_CREDENTIALS,
    AgentPlan,
    HostFacts,
    HostLayout,
    agent_config,
    agent_settings,
    bootstrap,
    check_host,
    unit_text,
)
from provisioning.errors import ProvisioningError
from provisioning.ssh import CommandResult, SshTarget
from provisioning.wheelhouse import Target, Wheelhouse

CONTROLLER = "https://borne.example.org"

SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "$FAKE_STATE/log"
case "$1" in
  is-enabled) if [ -f "$FAKE_STATE/enabled" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  is-active) [ -f "$FAKE_STATE/active" ] || exit 3 ;;
  enable) touch "$FAKE_STATE/enabled" ;;
  disable) rm -f "$FAKE_STATE/enabled" ;;
  start|restart) if [ -f "$FAKE_STATE/fail-start" ]; then echo "Job failed."; exit 1; fi
                 touch "$FAKE_STATE/active" ;;
  stop) rm -f "$FAKE_STATE/active" ;;
esac
"""
SUDO = """#!/bin/sh
echo "sudo $*" >> "$FAKE_STATE/log"
[ "$1" = -n ] && shift
exec "$@"
"""
# The installed agent's enrol: writes credentials where agent.toml says, as the real one does.
ENROL = """#!/bin/sh
echo "enrol $*" >> "$FAKE_STATE/log"
mkdir -p "$FAKE_STATE_DIR"
printf '{"device_id": "dev-1", "controller_url": "%s"}' "$CONTROLLER" \
  > "$FAKE_STATE_DIR/credentials.json"
"""


class LocalHost:
    """A RemoteHost that is a folder of this machine (see the module docstring)."""

    def __init__(self, root: Path, *, user: str = "root", systemd: bool = True) -> None:
        self.target = SshTarget("pc-01.example.org", 22, user)
        self.root = root
        self.systemd = systemd
        self.state = root / "fake"
        self.bin = self.state / "bin"
        self.bin.mkdir(parents=True)
        for name, script in (("systemctl", SYSTEMCTL), ("sudo", SUDO)):
            (self.bin / name).write_text(script)
            (self.bin / name).chmod(0o755)
        self.commands: list[str] = []

    def run(self, command: str, *, timeout: float = 600.0) -> CommandResult:
        self.commands.append(command)
        if "os-release" in command:  # the probe: a Debian 12 PC
            return CommandResult(
                0,
                "os_id=debian\nos_like=\nos_name=Debian GNU/Linux 12 (bookworm)\nkernel=Linux\n"
                f"machine=x86_64\nsystemd={'yes' if self.systemd else 'no'}\n"
                "python=3.11.2\nlibc=glibc 2.36\nvenv=yes\n",
            )
        env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "FAKE_STATE": str(self.state),
            "FAKE_STATE_DIR": HostLayout(str(self.root / "host")).state_dir,
            "CONTROLLER": CONTROLLER,
        }
        done = subprocess.run(
            ["sh", "-c", command], env=env, capture_output=True, text=True, timeout=timeout
        )
        return CommandResult(done.returncode, done.stdout + done.stderr)

    def put(self, local: Path, remote: str) -> None:
        Path(remote).write_bytes(local.read_bytes())

    def put_text(self, text: str, remote: str) -> None:
        Path(remote).write_text(text)

    def close(self) -> None:
        pass

    def log(self) -> list[str]:
        path = self.state / "log"
        return path.read_text().splitlines() if path.exists() else []


class OneWheelhouse:
    """Wheelhouses with one wheel, whatever the target."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        (folder / "borne-0.1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
        self.wheelhouse = Wheelhouse(folder, tuple(folder.glob("*.whl")))

    def for_target(self, target: Target) -> Wheelhouse:
        return self.wheelhouse


class Tokens:
    """The controller's API: counts the enrolment tokens asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, str]] = []

    def enrolment_token(self, site_id: int, kind: str, note: str) -> str:
        self.asked.append((site_id, kind))
        return "one-time-token"


@pytest.fixture
def host(tmp_path: Path) -> LocalHost:
    return LocalHost(tmp_path)


@pytest.fixture
def plan(tmp_path: Path) -> AgentPlan:
    return AgentPlan(
        site_id=7,
        kind=DeviceKind.PC,
        controller_url=CONTROLLER,
        settings={"device_name": "pc-01"},
        layout=HostLayout(str(tmp_path / "host")),
    )


def installed_agent(plan: AgentPlan, wheelhouses: OneWheelhouse) -> None:
    """What a previous run left in the venv: this wheelhouse's manifest and the agent."""
    venv = Path(plan.layout.venv)
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "borne").write_text(ENROL)
    (venv / "bin" / "borne").chmod(0o755)
    Path(plan.layout.manifest).write_text("python 3.11\n" + wheelhouses.wheelhouse.manifest())


def run(host: LocalHost, plan: AgentPlan, wheels: OneWheelhouse, tokens: Tokens) -> object:
    return bootstrap(host, plan, wheelhouses=wheels, controller=tokens)  # type: ignore[arg-type]


def test_on_a_systemd_host_the_unit_is_enabled_then_started_after_enrolment(
    host: LocalHost, plan: AgentPlan, tmp_path: Path
) -> None:
    wheels, tokens = OneWheelhouse(tmp_path / "wheels"), Tokens()
    installed_agent(plan, wheels)

    report = run(host, plan, wheels, tokens)

    steps = [line for line in host.log() if not line.startswith("systemctl is-")]
    assert steps == [
        "systemctl daemon-reload",
        "systemctl enable borne-agent.service",
        f"enrol agent enrol --controller {CONTROLLER} --token one-time-token --kind pc "
        f"--config {plan.layout.config}",
        "systemctl start borne-agent.service",
    ]
    assert tokens.asked == [(7, "pc")]
    assert report.changes == [  # type: ignore[attr-defined]
        "agent.toml written",
        "unit written",
        "enrolled as device dev-1",
        "borne-agent.service started",
    ]
    assert Path(plan.layout.unit).read_text() == unit_text(plan.layout)


def test_a_rerun_touches_nothing_and_asks_no_token(
    host: LocalHost, plan: AgentPlan, tmp_path: Path
) -> None:
    wheels, tokens = OneWheelhouse(tmp_path / "wheels"), Tokens()
    installed_agent(plan, wheels)
    run(host, plan, wheels, tokens)
    before = host.log()

    report = run(host, plan, wheels, tokens)

    assert report.summary() == "unchanged (device dev-1)"  # type: ignore[attr-defined]
    assert [
        line for line in host.log()[len(before) :] if not line.startswith("systemctl is-")
    ] == []
    assert len(tokens.asked) == 1


def test_a_changed_setting_rewrites_the_file_and_restarts_the_agent(
    host: LocalHost, plan: AgentPlan, tmp_path: Path
) -> None:
    wheels, tokens = OneWheelhouse(tmp_path / "wheels"), Tokens()
    installed_agent(plan, wheels)
    run(host, plan, wheels, tokens)
    before = host.log()

    renamed = dataclasses.replace(plan, settings={"device_name": "pc-02"})
    report = run(host, renamed, wheels, tokens)

    assert report.changes == ["agent.toml written", "borne-agent.service restarted"]  # type: ignore[attr-defined]
    assert 'device_name = "pc-02"' in Path(plan.layout.config).read_text()
    assert "systemctl restart borne-agent.service" in host.log()[len(before) :]
    assert len(tokens.asked) == 1


def test_a_failed_start_undoes_the_run(host: LocalHost, plan: AgentPlan, tmp_path: Path) -> None:
    wheels, tokens = OneWheelhouse(tmp_path / "wheels"), Tokens()
    installed_agent(plan, wheels)
    (host.state / "fail-start").touch()

    with pytest.raises(ProvisioningError) as failed:
        run(host, plan, wheels, tokens)

    assert "systemctl start borne-agent.service` failed (exit 1): Job failed." in str(failed.value)
    assert "the host was put back as it was" in str(failed.value)
    assert not Path(plan.layout.config).exists()
    assert not Path(plan.layout.unit).exists()
    assert not Path(plan.layout.state_dir).exists()  # the credentials went with it
    assert not (host.state / "enabled").exists()
    log = host.log()
    assert log[-2:] == ["systemctl disable borne-agent.service", "systemctl daemon-reload"]


def test_as_a_user_with_sudo_every_change_goes_through_sudo_n(
    tmp_path: Path, plan: AgentPlan
) -> None:
    host = LocalHost(tmp_path, user="alice", systemd=False)
    wheels, tokens = OneWheelhouse(tmp_path / "wheels"), Tokens()
    installed_agent(plan, wheels)

    report = run(host, plan, wheels, tokens)

    assert "sudo -n true" in host.commands
    writes = [c for c in host.commands if plan.layout.config in c and "install" in c]
    assert writes and all(c.startswith("sudo -n sh -c ") for c in writes)
    assert not any(line.startswith("systemctl") for line in host.log())  # no systemd there
    assert report.notes == [  # type: ignore[attr-defined]
        f"not started (the host does not run systemd); start it with: {plan.layout.agent_command}"
    ]


def facts(**overrides: object) -> HostFacts:
    base = HostFacts(
        os_name="Debian GNU/Linux 12 (bookworm)",
        os_ids=("debian",),
        machine="x86_64",
        python=(3, 11, 2),
        glibc=(2, 36),
        has_venv=True,
        runs_systemd=True,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("found", "message"),
    [
        ({"os_ids": ("fedora",), "os_name": "Fedora Linux 40"}, "runs Fedora Linux 40: the "),
        ({"python": (3, 9, 2)}, "has Python 3.9.2: the agent needs Python 3.11 to 3.13"),
        ({"python": None}, "has no /usr/bin/python3"),
        ({"has_venv": False}, "apt install python3-venv"),
        ({"glibc": None}, "is not glibc"),
        (
            {"enrolled": ("dev-9", "https://other.example.org")},
            "is enrolled as device dev-9 with the controller at https://other.example.org",
        ),
    ],
)
def test_hosts_the_agent_cannot_run_on_are_refused_before_any_change(
    plan: AgentPlan, found: dict[str, object], message: str
) -> None:
    with pytest.raises(ProvisioningError, match="Nothing was changed") as refused:
        check_host(facts(**found), plan, "root@pc-01")
    assert message in str(refused.value)


def test_ubuntu_and_debian_derivatives_are_accepted(plan: AgentPlan) -> None:
    target = check_host(facts(os_ids=("linuxmint", "ubuntu", "debian")), plan, "root@pc-01")
    assert target == Target((3, 11), "x86_64", (2, 36))


def test_agent_settings_are_checked_by_the_agent_and_typed() -> None:
    settings = agent_settings(CONTROLLER, {"heartbeat_interval_s": "30", "roles": "kiosk,hotspot"})
    assert settings == {"heartbeat_interval_s": 30, "roles": ("kiosk", "hotspot")}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"heartbeat_secs": "30"}, "--set heartbeat_secs: the agent has no such setting"),
        ({"state_dir": "/srv"}, "--set state_dir: set by the bootstrap itself"),
        ({"heartbeat_interval_s": "often"}, "must be a number, got 'often'"),
        ({"actions": "pretend"}, "setting actions must be one of system, simulated"),
    ],
)
def test_bad_agent_settings_are_named(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ProvisioningError) as refused:
        agent_settings(CONTROLLER, raw)
    assert message in str(refused.value)


def test_plain_http_to_another_machine_is_refused_as_the_agent_would() -> None:
    with pytest.raises(ProvisioningError, match="secret would travel in clear") as refused:
        agent_settings("http://borne.example.org", {})
    assert "(here: --set allow_insecure_http=true)" in str(refused.value)
    assert agent_settings("http://borne.example.org", {"allow_insecure_http": "yes"}) == {
        "allow_insecure_http": True
    }


def test_agent_toml_is_what_the_agent_reads(plan: AgentPlan, tmp_path: Path) -> None:
    plan = dataclasses.replace(
        plan, settings={"device_name": 'salle "Jean Jaurès"', "roles": ("kiosk", "hotspot")}
    )
    text = agent_config(plan)
    (tmp_path / "agent.toml").write_text(text)

    loaded = load_agent_settings(config_file=tmp_path / "agent.toml", env={})

    assert loaded.device_name == 'salle "Jean Jaurès"'
    assert loaded.roles == ("kiosk", "hotspot")
    assert str(loaded.state_dir) == plan.layout.state_dir
    assert tomllib.loads(text)["agent"]["controller_url"] == CONTROLLER
    assert agent_config(plan) == text  # same plan, same bytes: a rerun rewrites nothing


def test_the_unit_starts_the_agent_from_its_virtual_environment() -> None:
    unit = unit_text(HostLayout())
    assert "ExecStart=/opt/borne-agent/bin/borne agent run --config /etc/borne/agent.toml\n" in unit
    assert "/usr/bin/borne" not in unit
    assert "RestartPreventExitStatus=2" in unit  # the rest of the project's unit, as it is


def test_credentials_read_back_name_the_device(tmp_path: Path) -> None:
    # The probe reads the device id and controller with the host's Python, never the secret.
    credentials = tmp_path / "credentials.json"
    credentials.write_text(
        json.dumps({"device_id": "d", "device_secret": "s", "controller_url": "u"})
    )
    out = subprocess.run(
        ["sh", "-c", f"{READ_CREDENTIALS} {credentials}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["d", "u"]


def test_a_loopback_controller_is_refused_for_another_machine(
    plan: AgentPlan, tmp_path: Path
) -> None:
    host = LocalHost(tmp_path)
    local = dataclasses.replace(plan, controller_url="http://127.0.0.1:8000")

    with pytest.raises(ProvisioningError) as refused:
        run(host, local, OneWheelhouse(tmp_path / "wheels"), Tokens())

    assert "pc-01.example.org would look for the controller on itself" in str(refused.value)
    assert host.commands == []
