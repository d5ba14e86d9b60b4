"""What the public PC and kiosk roles write, rendered by Ansible from their templates and
defaults (those two roles change accounts and the display manager, so they are not run here
over SSH like borne_agent and hotspot): the browsers' policies for a shared screen, LightDM's
automatic login, security updates only, the USB block, the kiosk's session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ansible.conftest import ANSIBLE_DIR, run_ansible

ROLES = ANSIBLE_DIR / "roles"
RENDERED = {
    "public_pc": [
        "firefox-policies.json",
        "lightdm-public-pc.conf",
        "20auto-upgrades",
        "52borne-security-only",
        "usb-storage.conf",
    ],
    "charging_kiosk": [
        "chromium-policies.json",
        "lightdm-kiosk.conf",
        "borne-kiosk.desktop",
        "borne-kiosk-session",
    ],
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The templates rendered by Ansible with the roles' defaults and a site's choices."""
    out = tmp_path_factory.mktemp("rendered")
    tasks = [
        {
            "name": f"Render {name}",
            "ansible.builtin.template": {
                "src": str(ROLES / role / "templates" / f"{name}.j2"),
                "dest": str(out / name),
                "mode": "0644",
            },
        }
        for role, names in RENDERED.items()
        for name in names
    ]
    play = {
        "name": "Render",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [
            str(ROLES / role / "defaults/main.yml") for role in ("borne_agent", *RENDERED)
        ],
        "tasks": tasks,
    }
    playbook = out / "render.yml"
    playbook.write_text(json.dumps([play]))
    # The site's choices, as an admin gives them (over the roles' defaults).
    choices = out / "choices.json"
    choices.write_text(
        json.dumps(
            {
                "ansible_python_interpreter": sys.executable,
                "borne_agent_settings": {"kiosk_port": 8011, "guest_user": "public"},
                "public_pc_start_page": "https://www.bm-grenoble.fr/",
                "public_pc_session": "xfce",
                "public_pc_firefox_extra_policies": {"Homepage": {"Locked": False}},
            }
        )
    )
    home = out / "ansible-home"
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
    }
    result = run_ansible(
        "ansible-playbook", "-i", "localhost,", "-e", f"@{choices}", str(playbook), env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_firefox_on_a_public_pc_keeps_nothing_and_opens_the_sites_page(rendered):
    policies = json.loads((rendered / "firefox-policies.json").read_text())["policies"]
    assert policies["PasswordManagerEnabled"] is False
    assert policies["OfferToSaveLogins"] is False
    assert policies["DisableFormHistory"] is True
    cleared = policies["SanitizeOnShutdown"]
    assert all(cleared[what] for what in ("History", "Cookies", "Cache", "FormData", "Sessions"))
    assert policies["Homepage"] == {
        "URL": "https://www.bm-grenoble.fr/",
        "StartPage": "homepage",
        "Locked": False,  # the city's extra policies win, key by key
    }


def test_lightdm_on_a_public_pc_hides_accounts_and_starts_the_chosen_session(rendered):
    conf = (rendered / "lightdm-public-pc.conf").read_text()
    assert "[Seat:*]\n" in conf
    assert "greeter-hide-users=true\n" in conf
    assert "autologin-session=xfce\n" in conf


def test_unattended_upgrades_take_security_updates_only(rendered):
    assert 'APT::Periodic::Unattended-Upgrade "1";' in (rendered / "20auto-upgrades").read_text()
    security = (rendered / "52borne-security-only").read_text()
    assert "#clear Unattended-Upgrade::Origins-Pattern;" in security
    patterns = [line.strip() for line in security.splitlines() if line.startswith('  "')]
    assert patterns and all("label=Debian-Security" in p for p in patterns)
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in security


def test_usb_storage_block_stops_both_drivers_loading(rendered):
    block = (rendered / "usb-storage.conf").read_text()
    for driver in ("usb_storage", "uas"):
        assert f"blacklist {driver}\n" in block
        assert f"install {driver} /bin/false\n" in block


def test_chromium_on_the_kiosk_shows_only_its_page_without_passwords_autofill_or_sign_in(
    rendered,
):
    policies = json.loads((rendered / "chromium-policies.json").read_text())
    assert policies["PasswordManagerEnabled"] is False
    assert policies["AutofillAddressEnabled"] is False
    assert policies["AutofillCreditCardEnabled"] is False
    assert policies["TranslateEnabled"] is False
    assert policies["BrowserSignin"] == 0
    assert policies["URLBlocklist"] == ["*"]
    assert policies["URLAllowlist"] == ["http://127.0.0.1:8011/"]  # the agent's kiosk_port


def test_the_kiosk_session_runs_chromium_in_kiosk_mode_on_the_touch_page(rendered):
    script = rendered / "borne-kiosk-session"
    subprocess.run(["bash", "-n", str(script)], check=True)  # it parses
    text = script.read_text()
    assert "/dev/tcp/127.0.0.1/8011" in text
    assert "chromium --kiosk " in text
    assert text.rstrip().endswith("done")
    assert "http://127.0.0.1:8011/" in text
    desktop = (rendered / "borne-kiosk.desktop").read_text()
    assert "Exec=/usr/local/bin/borne-kiosk-session\n" in desktop
    lightdm = (rendered / "lightdm-kiosk.conf").read_text()
    assert "autologin-user=borne-kiosk\n" in lightdm
    assert "autologin-session=borne-kiosk\n" in lightdm
