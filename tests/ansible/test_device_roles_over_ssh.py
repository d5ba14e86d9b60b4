"""The public-PC and charging-kiosk playbooks run for real over SSH (the test's own sshd, as
root), systemd left alone (no systemd here), every path of the roles under the test's folder —
except what the agent's own ``borne agent pc setup`` makes on this machine: the guest account,
its LightDM drop-in and its polkit rule, which the test removes afterwards whatever happened.

Checked: what the roles left on disk, as Firefox, LightDM and apt read it; the kiosk's agent
started as its unit says, serving its touch page and the recordings the role made; a second
run changing nothing. Each role's packages are already on this machine (make's TEST_PACKAGES),
so its apt task finds them installed and never reaches the network.
"""

from __future__ import annotations

import json
import pwd
import re
import secrets
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import yaml

from agent.pc.display_manager import LIGHTDM_DROP_IN
from agent.pc.lockdown import POLKIT_RULE
from tests.ansible.conftest import (
    ANSIBLE_DIR,
    agent_paths,
    device_inventory,
    play_recap,
    run_ansible,
)
from tests.polling import wait_for
from tests.postgres import free_port

pytestmark = pytest.mark.e2e

SITE = "grenoble-bib-centre-ville"
START_PAGE = "https://www.bm-grenoble.fr/"
# What `borne agent pc setup` writes in this machine's /etc for the guest (the agent has no
# setting to move them), and the folder it makes for the first of them.
SETUP_FILES = (Path("/") / LIGHTDM_DROP_IN, Path("/") / POLKIT_RULE)
SETUP_FOLDERS = (Path("/") / LIGHTDM_DROP_IN.parent,)
# The kiosk's X server is left out: the test starts no session, and Debian's Xorg brings udev
# (and a systemd upgrade) onto a machine that never boots with them.
X_SERVER = ("xserver-xorg-core", "xserver-xorg-input-libinput")
# Ansible's apt module needs it on the device (it would apt-get install it otherwise).
APT_MODULE = "python3-apt"


# --- what the machine must already have ----------------------------------------------------------


def _role_default(role: str, name: str) -> list[str]:
    return yaml.safe_load((ANSIBLE_DIR / "roles" / role / "defaults/main.yml").read_text())[name]


def _assert_installed(role_packages: list[str]) -> None:
    """Fail, rather than let an apt task download it, when a package the playbook installs
    (``role_packages``, the agent role's, the apt module's own) is missing here."""
    packages = [*role_packages, *_role_default("borne_agent", "borne_agent_packages"), APT_MODULE]
    missing = [
        package
        for package in packages
        if subprocess.run(
            ["dpkg-query", "--show", "--showformat=${db:Status-Status}", package],
            capture_output=True,
            text=True,
        ).stdout
        != "installed"
    ]
    assert not missing, (
        f"not installed on this machine: {', '.join(missing)}; the role would fetch them from "
        "the network (make install-test-services installs TEST_PACKAGES)"
    )


# --- accounts the roles create -------------------------------------------------------------------


def _remove_account(name: str) -> None:
    """The account, its group and its home, if it exists (no process ever runs as it here)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["userdel", "--force", "--remove", name], check=True, capture_output=True)


@pytest.fixture
def guest_user() -> Iterator[str]:
    """A guest account name of this test's own; the account `borne agent pc setup` makes for it,
    and the files setup writes in /etc, are gone afterwards (files there before are put back)."""
    name = f"bgpc-{secrets.token_hex(3)}"
    before = {path: path.read_bytes() if path.is_file() else None for path in SETUP_FILES}
    new_folders = [folder for folder in SETUP_FOLDERS if not folder.exists()]
    try:
        yield name
    finally:
        _remove_account(name)
        for path, content in before.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)
        for folder in new_folders:
            with suppress(FileNotFoundError):
                folder.rmdir()


@pytest.fixture
def kiosk_user() -> Iterator[str]:
    """The name of the account the kiosk role creates, removed afterwards whatever happened."""
    name = f"bkiosk-{secrets.token_hex(3)}"
    try:
        yield name
    finally:
        _remove_account(name)


# --- Ansible -------------------------------------------------------------------------------------


def _playbook_run(
    tmp_path: Path, sshd, ansible_env: dict[str, str], kind: str, variables: dict
) -> tuple[str, ...]:
    """The arguments of ``ansible-playbook`` running ``playbooks/<kind>.yml`` on the device."""
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    inventory = device_inventory(tmp_path, sshd, group=f"kind_{kind}")
    return ("-i", str(inventory), "-e", f"@{tmp_path / 'vars.json'}", f"playbooks/{kind}.yml")


# --- the tests -----------------------------------------------------------------------------------


def test_pc_playbook_sets_up_the_guest_firefox_updates_and_usb_block_and_reruns_clean(
    tmp_path, sshd, live_controller, wheelhouse, ansible_env, guest_user
):
    _assert_installed(_role_default("public_pc", "public_pc_packages"))
    device = tmp_path / "device"
    etc = device / "etc"
    # What Debian gives every PC before the role runs: apt's and modprobe's folders, and
    # unattended-upgrades' own settings (which also take point releases).
    (etc / "apt/apt.conf.d").mkdir(parents=True)
    (etc / "modprobe.d").mkdir(parents=True)
    shutil.copy2("/etc/apt/apt.conf.d/50unattended-upgrades", etc / "apt/apt.conf.d")
    paths = agent_paths(device)
    variables = {
        **paths,
        "borne_agent_controller_url": live_controller.url,
        "borne_agent_enrolment_token": live_controller.token(SITE, "pc"),
        "borne_agent_wheelhouse": str(wheelhouse),
        "borne_agent_settings": {
            "device_name": "PC espace public 2",
            "guest_user": guest_user,
            "guest_skeleton": str(etc / "borne/guest-skel"),
        },
        "borne_manage_services": False,
        "public_pc_start_page": START_PAGE,
        "public_pc_block_usb_storage": True,
        "public_pc_lightdm_conf_dir": str(etc / "lightdm/lightdm.conf.d"),
        "public_pc_firefox_policies_dir": str(etc / "firefox-esr/policies"),
        "public_pc_apt_conf_dir": str(etc / "apt/apt.conf.d"),
        "public_pc_modprobe_dir": str(etc / "modprobe.d"),
    }
    args = _playbook_run(tmp_path, sshd, ansible_env, "pc", variables)

    first = run_ansible("ansible-playbook", *args, env=ansible_env)
    assert first.returncode == 0, first.stdout + first.stderr

    # The guest: a real account of its own, its skeleton, logged in automatically by LightDM
    # (the agent's drop-in in this machine's /etc), checked before each login.
    guest = pwd.getpwnam(guest_user)
    assert guest.pw_uid >= 1000
    assert (etc / "borne/guest-skel/.bashrc").is_file()
    borne = f"{paths['borne_agent_venv']}/bin/borne"
    autologin = (Path("/") / LIGHTDM_DROP_IN).read_text()
    assert f"autologin-user={guest_user}\n" in autologin
    assert f"session-setup-script={borne} agent pc before-login\n" in autologin
    greeter = (etc / "lightdm/lightdm.conf.d/60-borne-public-pc.conf").read_text()
    assert "greeter-hide-users=true\n" in greeter
    assert "allow-guest=false\n" in greeter
    config = f"{paths['borne_agent_config_dir']}/agent.toml"
    check = subprocess.run(
        [borne, "agent", "pc", "check", "--config", config], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("ready: the guest logs in on its own")

    # Firefox ESR for a shared PC: nothing saved, everything cleared on exit, the site's page.
    policies = json.loads((etc / "firefox-esr/policies/policies.json").read_text())["policies"]
    assert policies["OfferToSaveLogins"] is False
    assert policies["PasswordManagerEnabled"] is False
    assert policies["DisableFormHistory"] is True
    sanitize = policies["SanitizeOnShutdown"]
    assert all(sanitize[item] for item in ("History", "Cookies", "Cache", "FormData", "Sessions"))
    assert sanitize["Locked"] is True
    assert policies["Homepage"] == {"URL": START_PAGE, "StartPage": "homepage", "Locked": True}

    # Security updates only, every day, as apt itself reads the PC's settings (Debian's file
    # included): the point releases Debian's file lets through are gone.
    apt_config = tmp_path / "apt.conf"
    apt_config.write_text(f'Dir::Etc::Parts "{etc / "apt/apt.conf.d"}";\n')
    dumped = subprocess.run(
        ["apt-config", "dump"],
        env={"APT_CONFIG": str(apt_config), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    origins = re.findall(r'^Unattended-Upgrade::Origins-Pattern:: "(.*)";$', dumped, re.MULTILINE)
    assert origins and all("label=Debian-Security" in origin for origin in origins), dumped
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dumped
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dumped

    # USB sticks refused, as asked.
    usb = (etc / "modprobe.d/borne-usb-storage.conf").read_text()
    assert "install usb_storage /bin/false\n" in usb
    assert "install uas /bin/false\n" in usb

    # Run again: nothing to change, the same guest account.
    second = run_ansible("ansible-playbook", *args, env=ansible_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert play_recap(second.stdout)["changed"] == 0, second.stdout
    assert pwd.getpwnam(guest_user).pw_uid == guest.pw_uid


def test_kiosk_playbook_sets_up_chromium_on_the_touch_page_the_agent_serves_and_reruns_clean(
    tmp_path, sshd, live_controller, wheelhouse, ansible_env, kiosk_user
):
    packages = [
        package
        for package in _role_default("charging_kiosk", "charging_kiosk_packages")
        if package not in X_SERVER
    ]
    _assert_installed(packages)
    device = tmp_path / "device"
    # What Debian gives every kiosk before the role runs (usr/share/xsessions: lightdm's).
    (device / "usr/local/bin").mkdir(parents=True)
    (device / "usr/share/xsessions").mkdir(parents=True)
    paths = agent_paths(device)
    port = free_port()
    variables = {
        **paths,
        "borne_agent_controller_url": live_controller.url,
        "borne_agent_enrolment_token": live_controller.token(SITE, "kiosk"),
        "borne_agent_wheelhouse": str(wheelhouse),
        "borne_agent_settings": {
            "device_name": "Borne de recharge hall",
            "kiosk_driver": "simulated",
            "kiosk_port": port,
        },
        "borne_manage_services": False,
        "charging_kiosk_packages": packages,
        "charging_kiosk_user": kiosk_user,
        "charging_kiosk_chromium_policies_dir": str(device / "etc/chromium/policies/managed"),
        "charging_kiosk_session_script": str(device / "usr/local/bin/borne-kiosk-session"),
        "charging_kiosk_xsessions_dir": str(device / "usr/share/xsessions"),
        "charging_kiosk_lightdm_conf_dir": str(device / "etc/lightdm/lightdm.conf.d"),
    }
    args = _playbook_run(tmp_path, sshd, ansible_env, "kiosk", variables)

    first = run_ansible("ansible-playbook", *args, env=ansible_env)
    assert first.returncode == 0, first.stdout + first.stderr

    # The account whose session shows the page, logged in automatically into that session.
    account = pwd.getpwnam(kiosk_user)
    assert Path(account.pw_dir).is_dir()
    url = f"http://127.0.0.1:{port}/"
    lightdm = (device / "etc/lightdm/lightdm.conf.d/50-borne-kiosk.conf").read_text()
    assert f"autologin-user={kiosk_user}\n" in lightdm
    assert "autologin-session=borne-kiosk\n" in lightdm
    desktop = (device / "usr/share/xsessions/borne-kiosk.desktop").read_text()
    session = device / "usr/local/bin/borne-kiosk-session"
    assert f"Exec={session}\n" in desktop
    assert session.stat().st_mode & 0o777 == 0o755
    script = session.read_text()
    assert f"/dev/tcp/127.0.0.1/{port}" in script
    chromium = re.search(r"^\s*chromium (.*)$", script.replace("\\\n", ""), re.MULTILINE)
    assert chromium, script
    assert shlex.split(chromium.group(1))[-1] == url
    assert {"--kiosk", "--incognito"} <= set(shlex.split(chromium.group(1)))
    syntax = subprocess.run(["bash", "-n", str(session)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr

    # Chromium: nothing but the touch page, no password manager, no downloads.
    policies = json.loads((device / "etc/chromium/policies/managed/borne-kiosk.json").read_text())
    assert policies["URLBlocklist"] == ["*"]
    assert policies["URLAllowlist"] == [url]
    assert policies["HomepageLocation"] == url
    assert policies["PasswordManagerEnabled"] is False
    assert policies["DownloadRestrictions"] == 3

    # The agent, started as its unit says, serves the touch page on its loopback port, with
    # the recordings the role made.
    unit = (device / "etc/systemd/system/borne-agent.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.MULTILINE)
    assert exec_start, unit
    with (tmp_path / "agent.log").open("wb") as log:
        agent = subprocess.Popen(
            shlex.split(exec_start.group(1)), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        home = wait_for(
            lambda: _page(url), 30, f"the touch page on {url} ({tmp_path / 'agent.log'})"
        )
        recording = re.search(r'<audio [^>]*src="(/audio/home\.fr\.mp3)"', home)
        assert recording, home
        with urllib.request.urlopen(f"{url.rstrip('/')}{recording.group(1)}", timeout=10) as mp3:
            assert mp3.headers["Content-Type"] == "audio/mpeg"
            assert len(mp3.read()) > 1000

        # Run again: nothing to change, the recordings not made twice.
        second = run_ansible("ansible-playbook", *args, env=ansible_env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert play_recap(second.stdout)["changed"] == 0, second.stdout
    finally:
        agent.terminate()
        agent.wait(timeout=15)


def _page(url: str) -> str | None:
    """The page at ``url`` once it answers 200 (redirects followed); None while it does not."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None
