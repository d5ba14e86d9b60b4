"""Roles run for real over SSH (the test's own sshd, as root), with every path under the test's
folder and systemd left alone (no systemd here): what they left on disk, the agent started as
its unit says, enrolled and heartbeating, and a second run changing nothing.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.ansible.conftest import ROOT, agent_paths, device_inventory, play_recap, run_ansible
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

SITE = "grenoble-bib-centre-ville"
PLAYBOOK = """\
- name: A device
  hosts: device
  gather_facts: false
  roles:
    - role: borne_agent
"""


def _devices(controller, api_token: str) -> list[dict]:
    request = urllib.request.Request(
        f"{controller.url}/api/v1/devices", headers={"Authorization": f"Bearer {api_token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_role_installs_configures_and_enrols_an_agent_that_then_heartbeats_and_reruns_clean(
    tmp_path, sshd, live_controller, wheelhouse, ansible_env
):
    paths = agent_paths(tmp_path / "device")
    variables = {
        **paths,
        "borne_agent_controller_url": live_controller.url,
        "borne_agent_enrolment_token": live_controller.token(SITE, "pc"),
        "borne_agent_wheelhouse": str(wheelhouse),
        "borne_agent_settings": {
            "device_name": "PC accueil 1",
            "heartbeat_interval_s": 2,
            "actions": "simulated",  # no guest account on this machine to reset
        },
        "borne_manage_services": False,
        "borne_agent_packages": [],  # the machine's packages are not the test's to change
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    (tmp_path / "device.yml").write_text(PLAYBOOK)
    inventory = device_inventory(tmp_path, sshd)
    args = ("-i", str(inventory), "-e", f"@{tmp_path / 'vars.json'}", str(tmp_path / "device.yml"))

    first = run_ansible("ansible-playbook", *args, env=ansible_env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert play_recap(first.stdout)["changed"] > 0

    # On disk: the venv with the agent, its settings, the packaged unit started from the venv.
    venv = Path(paths["borne_agent_venv"])
    assert (venv / "bin" / "borne").is_file()
    config_file = Path(paths["borne_agent_config_dir"]) / "agent.toml"
    settings = tomllib.loads(config_file.read_text())["agent"]
    assert settings == {
        "controller_url": live_controller.url,
        "state_dir": paths["borne_agent_state_dir"],
        "device_name": "PC accueil 1",
        "heartbeat_interval_s": 2,
        "actions": "simulated",
    }
    unit = (Path(paths["borne_agent_unit_dir"]) / "borne-agent.service").read_text()
    packaged = (ROOT / "agent/systemd/borne-agent.service").read_text()
    exec_start = f"ExecStart={venv}/bin/borne agent run --config {config_file}"
    assert unit == re.sub(r"(?m)^ExecStart=.*$", exec_start, packaged)
    state_dir = Path(paths["borne_agent_state_dir"])
    assert state_dir.stat().st_mode & 0o777 == 0o700
    credentials = json.loads((state_dir / "credentials.json").read_text())

    # The agent, started as the unit would start it, is the enrolled device and heartbeats.
    live_controller.add_user("alex", "correct horse battery staple", "admin")
    api_token = live_controller.cli("api-token", "create", "alex", "--name", "test").strip()
    command = shlex.split(exec_start.removeprefix("ExecStart="))
    with (tmp_path / "agent.log").open("wb") as log:
        agent = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        device_seen = wait_for(
            lambda: next(
                (d for d in _devices(live_controller, api_token)
                 if d["id"] == credentials["device_id"] and d["status"] == "online"),
                None,
            ),
            30,
            f"device online ({tmp_path / 'agent.log'})",
        )  # fmt: skip
        assert device_seen["name"] == "PC accueil 1"
        assert device_seen["kind"] == "pc"

        # Run again: nothing to change, the enrolment kept (no second device).
        enrolled = len(_devices(live_controller, api_token))
        second = run_ansible("ansible-playbook", *args, env=ansible_env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert play_recap(second.stdout)["changed"] == 0, second.stdout
        assert json.loads((state_dir / "credentials.json").read_text()) == credentials
        assert len(_devices(live_controller, api_token)) == enrolled

        # A bad setting: refused with the agent's own words, the settings in force untouched.
        before = config_file.read_text()
        bad = {**variables, "borne_agent_settings": {"heartbeat_interval_s": 0}}
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        refused = run_ansible(
            "ansible-playbook", "-i", str(inventory), "-e", f"@{tmp_path / 'bad.json'}",
            str(tmp_path / "device.yml"), env=ansible_env,
        )  # fmt: skip
        assert refused.returncode != 0
        assert "setting heartbeat_interval_s must be between 1 and 3600 seconds" in refused.stdout
        assert config_file.read_text() == before
    finally:
        agent.terminate()
        agent.wait(timeout=15)


def test_hotspot_playbook_sets_up_the_portal_from_its_own_render_and_reruns_clean(
    tmp_path, sshd, live_controller, wheelhouse, ansible_env
):
    device = tmp_path / "device"
    paths = agent_paths(device)
    variables = {
        **paths,
        "borne_agent_controller_url": live_controller.url,
        "borne_agent_enrolment_token": live_controller.token("echirolles-bib-neruda", "hotspot"),
        "borne_agent_wheelhouse": str(wheelhouse),
        "borne_agent_settings": {"portal_state_dir": str(device / "var/lib/borne-portal")},
        "borne_manage_services": False,
        "borne_agent_packages": [],
        "hotspot_packages": [],
        "hotspot_record_audio": False,  # recorded by make portal-audio's own tests
        "hotspot_ssid": "Wifi public Échirolles",
        "hotspot_wifi_interface": "wlan1",
        "hotspot_client_subnet": "10.44.0.0/22",
        "hotspot_portal_settings": {"session_s": 7200},
        "hotspot_render_dir": str(device / "etc/borne-portal"),
        "hotspot_sysctl_file": str(device / "etc/sysctl.d/60-borne-hotspot.conf"),
        "hotspot_interfaces_file": str(device / "etc/network/interfaces.d/borne-portal-wlan1"),
    }
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    inventory = device_inventory(tmp_path, sshd, group="kind_hotspot")
    args = ("-i", str(inventory), "-e", f"@{tmp_path / 'vars.json'}", "playbooks/hotspot.yml")

    first = run_ansible("ansible-playbook", *args, env=ansible_env)
    assert first.returncode == 0, first.stdout + first.stderr

    etc = device / "etc"
    portal = tomllib.loads((etc / "borne/portal.toml").read_text())["portal"]
    assert portal["ssid"] == "Wifi public Échirolles"
    assert portal["session_s"] == 7200
    assert portal["state_dir"] == str(device / "var/lib/borne-portal")
    hostapd = (etc / "borne-portal/hostapd.conf").read_text()
    assert "ssid=Wifi public Échirolles\n" in hostapd
    assert "interface=wlan1\n" in hostapd
    dnsmasq = (etc / "borne-portal/dnsmasq.conf").read_text()
    assert "dhcp-option=option:router,10.44.0.1\n" in dnsmasq
    assert "address 10.44.0.1/22" in (etc / "network/interfaces.d/borne-portal-wlan1").read_text()
    sysctl = (etc / "sysctl.d/60-borne-hotspot.conf").read_text()
    assert "net.ipv4.ip_forward = 1" in sysctl
    assert "net.ipv4.neigh.default.gc_thresh3 = 8192" in sysctl
    units = etc / "systemd/system"
    venv_borne = f"{paths['borne_agent_venv']}/bin/borne"
    assert (
        f"ExecStart={venv_borne} portal run --config {etc / 'borne/portal.toml'}\n"
        in (units / "borne-portal.service").read_text()
    )
    assert (
        f"--conf-file={etc / 'borne-portal/dnsmasq.conf'}"
        in (units / "borne-portal-dnsmasq.service").read_text()
    )
    assert (units / "borne-agent.service").is_file()
    credentials = json.loads((device / "var/lib/borne-agent/credentials.json").read_text())
    assert credentials["kind"] == "hotspot"

    second = run_ansible("ansible-playbook", *args, env=ansible_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert play_recap(second.stdout)["changed"] == 0, second.stdout
