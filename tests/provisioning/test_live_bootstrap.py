"""``borne provision bootstrap`` against a real sshd on 127.0.0.1 and a real controller.

The host is this machine (as root, through the test sshd); each test installs below its own
prefix. This machine has no systemd as PID 1, so the bootstrap installs the unit without starting
it, and the test starts the agent itself, as the bootstrap tells the admin to.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.protocol import DeviceKind
from provisioning.bootstrap import AgentPlan, HostLayout, bootstrap
from provisioning.controller_api import ControllerApi
from provisioning.errors import ProvisioningError
from provisioning.ssh import SshHost, SshTarget
from provisioning.wheelhouse import Wheelhouses
from tests.polling import wait_for
from tests.provisioning.conftest import Controller, Provision
from tests.ssh_server import running_sshd, system_user

pytestmark = [pytest.mark.e2e, pytest.mark.machine]


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}


def test_bootstrap_ends_in_a_running_enrolled_agent_and_a_rerun_changes_nothing(
    provision: Provision,
) -> None:
    first = provision("bootstrap", "--trust-host", provision.server.host_key_fingerprint)
    assert first.returncode == 0, first.stderr
    pinned = provision.known_hosts.read_text()
    assert pinned.split()[:3] == provision.server.known_hosts.read_text().split()[:3]
    assert "enrolled as device" in first.stdout
    assert "not started (the host does not run systemd); start it with:" in first.stdout

    layout = HostLayout(str(provision.prefix))
    config = Path(layout.config).read_text()
    assert f'controller_url = "{provision.controller.url}"' in config
    assert 'actions = "simulated"' in config
    assert f"ExecStart={layout.agent_command}\n" in Path(layout.unit).read_text()
    device_id = json.loads(Path(layout.credentials).read_text())["device_id"]
    assert [d["id"] for d in provision.controller.devices_at_site()].count(device_id) == 1

    before = _snapshot(provision.prefix)
    second = provision("bootstrap")
    assert second.returncode == 0, second.stderr
    assert f"unchanged (device {device_id})" in second.stdout
    assert _snapshot(provision.prefix) == before  # nothing rewritten, nothing reinstalled
    assert len(provision.controller.devices_at_site()) == len(
        {d["id"] for d in provision.controller.devices_at_site()}
    )
    assert device_id == json.loads(Path(layout.credentials).read_text())["device_id"]

    agent = subprocess.Popen(
        layout.agent_command.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def online() -> bool:
            status, device = provision.controller.api("GET", f"/api/v1/devices/{device_id}")
            return status == 200 and device["status"] == "online"

        wait_for(online, timeout=60, what="the bootstrapped agent online on the controller")
    finally:
        agent.terminate()
        agent.wait(timeout=15)


def test_unknown_host_key_is_refused_and_its_fingerprint_printed(provision: Provision) -> None:
    result = provision("bootstrap")

    assert result.returncode == 1
    assert provision.server.host_key_fingerprint in result.stderr
    assert f"--trust-host {provision.server.host_key_fingerprint}" in result.stderr
    assert provision.installed() == []
    assert not provision.known_hosts.exists()


def test_trust_host_with_another_fingerprint_is_refused(provision: Provision) -> None:
    result = provision("bootstrap", "--trust-host", "SHA256:" + "A" * 43)

    assert result.returncode == 1
    assert f"is {provision.server.host_key_fingerprint}, not SHA256:AAAA" in result.stderr
    assert not provision.known_hosts.exists()
    assert provision.installed() == []


def test_changed_host_key_is_refused_loudly(provision: Provision, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    key = other.with_suffix(".pub").read_text().split()[:2]
    provision.known_hosts.write_text(f"[127.0.0.1]:{provision.server.port} {' '.join(key)}\n")

    result = provision("bootstrap", "--trust-host", provision.server.host_key_fingerprint)

    assert result.returncode == 1
    assert "has CHANGED" in result.stderr
    assert provision.server.host_key_fingerprint in result.stderr
    assert provision.installed() == []


def test_wrong_key_is_a_clear_error_and_nothing_is_written(
    provision: Provision, trusted: Callable[[], None], tmp_path: Path
) -> None:
    trusted()
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)

    result = provision("bootstrap", "--identity", str(stranger))

    assert result.returncode == 1
    assert f"refused to sign in with the key {stranger}" in result.stderr
    assert provision.installed() == []


def test_a_user_without_sudo_is_refused_and_nothing_is_written(
    provision: Provision, tmp_path: Path
) -> None:
    with (
        system_user("borne-nosudo") as user,
        running_sshd(tmp_path / "sshd", users=(user,)) as server,
    ):
        provision.known_hosts.write_text(server.known_hosts.read_text())
        result = provision("bootstrap", server=server)

    assert result.returncode == 1
    assert "borne-nosudo cannot run commands as root without a password" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert provision.installed() == []


class RefusedTokens(ControllerApi):
    """A controller whose tokens the host's enrolment refuses (the token was revoked meanwhile)."""

    def enrolment_token(self, site_id: int, kind: str, note: str) -> str:
        return "revoked-" + "x" * 30


def test_a_failed_enrolment_puts_the_host_back_as_it_was(
    provision: Provision, trusted: Callable[[], None], controller: Controller
) -> None:
    trusted()
    server = provision.server
    connection = SshHost.connect(
        SshTarget(server.host, server.port, server.user, server.client_key),
        known_hosts=provision.known_hosts,
        lock=threading.Lock(),
    )
    plan = AgentPlan(
        site_id=controller.site_id,
        kind=DeviceKind.PC,
        controller_url=controller.url,
        settings={"actions": "simulated"},
        layout=HostLayout(str(provision.prefix)),
    )
    try:
        with pytest.raises(ProvisioningError) as refused:
            bootstrap(
                connection,
                plan,
                wheelhouses=Wheelhouses(provision.cache, agent_wheel=provision.wheel),
                controller=RefusedTokens(controller.url, controller.api_token),
            )
        leftovers = connection.run("ls -d /tmp/borne-provision.* 2>/dev/null").output
    finally:
        connection.close()

    assert "enrolment failed" in str(refused.value)
    assert "the host was put back as it was" in str(refused.value)
    assert provision.installed() == []
    assert leftovers.strip() == ""
