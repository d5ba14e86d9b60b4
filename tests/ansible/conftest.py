"""Fixtures for the Ansible tests: the tools run as an admin runs them (ansible.cfg of
``ansible/``), a live controller, and the agent's wheelhouse built from this checkout."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.controller_process import DEMO_PLACES, ControllerProcess

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = ROOT / "ansible"
BIN = Path(sys.executable).parent
EXTRAS = "[kiosk,portal]"  # the devices' extras: a hotspot's portal, a kiosk's locker drivers
# What a wheel of borne is built from (pyproject.toml's packages and readme).
SOURCES = ("pyproject.toml", "README.md", "borne", "agent", "controller", "captive_portal",
           "provisioning")  # fmt: skip


@pytest.fixture
def ansible_env(tmp_path: Path) -> dict[str, str]:
    """The environment of ``ansible-*`` commands: this project's ansible.cfg, and Ansible's own
    files (temporary files, caches, facts) in the test's folder rather than in ~/.ansible."""
    home = tmp_path / "ansible-home"
    home.mkdir()
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }


def run_ansible(
    tool: str, *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run ``tool`` (ansible-playbook, ansible-inventory …) from this venv in ``ansible/``."""
    return subprocess.run(
        [str(BIN / tool), *args],
        cwd=ANSIBLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def live_controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    """A migrated controller with the demo places imported, serving on a free loopback port;
    one per test module (each test enrols its own devices, adds its own users)."""
    controller = ControllerProcess(tmp_path_factory.mktemp("controller"))
    controller.migrate()
    controller.cli("places", "import", str(DEMO_PLACES))
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheels an admin builds for the devices (``pip wheel``), from a copy of this checkout
    (so no build folder is left in it): borne's and its dependencies', the portal's and the kiosk's
    (its locker drivers) included."""
    work = tmp_path_factory.mktemp("wheelhouse")
    source = work / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "node_modules")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    wheels = work / "wheels"
    subprocess.run(
        [
            str(BIN / "pip"),
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(wheels),
            f"{source}[kiosk,portal]",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return wheels


def device_inventory(tmp_path: Path, sshd, group: str = "ungrouped") -> Path:
    """One host, ``device``, in ``group``: this machine through the test's sshd, as root."""
    inventory = tmp_path / "hosts.json"
    host = {
        "ansible_host": sshd.host,
        "ansible_port": sshd.port,
        "ansible_user": sshd.user,
        "ansible_ssh_private_key_file": str(sshd.client_key),
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes"
        ),
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_become": False,  # root already; the machine has no sudo
    }
    inventory.write_text(json.dumps({"all": {"children": {group: {"hosts": {"device": host}}}}}))
    return inventory


def play_recap(output: str) -> dict[str, int]:
    """The device's line of ansible-playbook's PLAY RECAP: ok, changed, failed …"""
    line = re.search(r"^device\s*:\s*(.*)$", output, re.MULTILINE)
    assert line, output
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


def agent_paths(device: Path) -> dict[str, str]:
    """The borne_agent role's paths, under ``device`` (the device's / as far as the roles are
    concerned)."""
    return {
        "borne_agent_venv": str(device / "opt/borne-agent"),
        "borne_agent_wheelhouse_dir": str(device / "var/cache/borne-agent/wheelhouse"),
        "borne_agent_config_dir": str(device / "etc/borne"),
        "borne_agent_state_dir": str(device / "var/lib/borne-agent"),
        "borne_agent_unit_dir": str(device / "etc/systemd/system"),
    }
