"""A mediator's "Reset now", end to end: real Chromium, real controller, a real agent process
running as the public PC of a real throwaway guest account, and the filesystem afterwards.

The resident's traces are real files in the guest's home and in /tmp; the reset swaps the home,
the wipe report comes back to the controller and appears live on the device page.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.pc.guest import GuestAccount
from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, TABLET, sign_in
from tests.e2e.controller_process import ControllerProcess, agent_process, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent"))
from guest_testkit import throwaway_guest

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
SITE = "grenoble-mdh-teisseire"


@pytest.fixture
def guest(tmp_path: Path) -> Iterator[GuestAccount]:
    homes = tmp_path / "home"
    homes.mkdir()
    with throwaway_guest(home_parent=homes) as account:
        yield account


@pytest.fixture
def public_pc(
    live_controller: ControllerProcess, guest: GuestAccount, tmp_path: Path
) -> Iterator[str]:
    """A real ``borne agent run`` for a PC whose guest is ``guest``; yields its device id."""
    skeleton = tmp_path / "skel"
    (skeleton / "Desktop").mkdir(parents=True)
    (skeleton / "Desktop" / "Bienvenue.txt").write_text("Bienvenue à la médiathèque\n")
    state_dir = tmp_path / "agent"
    settings = {
        "BORNE_AGENT_GUEST_USER": guest.name,
        "BORNE_AGENT_GUEST_SKELETON": str(skeleton),
        "BORNE_AGENT_HEARTBEAT_INTERVAL_S": "2",
        "BORNE_AGENT_DEVICE_NAME": "pc-accueil",
    }
    with agent_process(live_controller, SITE, "pc", state_dir, settings) as device_id:
        # The PC starts with its site's session limits and the language and time zone of what
        # it tells residents, given at enrolment (its agent said it reads them).
        remote = json.loads((state_dir / "remote-settings.json").read_text())
        assert remote == {
            "idle_timeout_s": 900,
            "max_session_s": 0,
            "site_language": "fr",
            "site_timezone": "Europe/Paris",
        }
        yield device_id


def leave_resident_traces(guest: GuestAccount) -> Path:
    """What a resident leaves: documents, a browser history, shell history, a file in /tmp."""
    for relative, text in {
        "Documents/cv-final.odt": "CV de Mme D.",
        "Downloads/attestation-caf.pdf": "%PDF attestation",
        ".mozilla/firefox/x.default-esr/places.sqlite": "history",
        ".bash_history": "ssh me@example.org\n",
    }.items():
        path = guest.home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for path in [guest.home, *guest.home.rglob("*")]:
        os.chown(path, guest.uid, guest.gid, follow_symlinks=False)
    in_tmp = Path("/tmp") / f"{guest.name}-scan.pdf"
    in_tmp.write_text("a scanned passport")
    os.chown(in_tmp, guest.uid, guest.gid)
    return in_tmp


def test_mediator_resets_a_real_pc_and_sees_the_result_and_the_wipe_live(
    live_controller: ControllerProcess, public_pc: str, guest: GuestAccount, browser
):
    live_controller.add_user("mia", PASSWORD, "mediator", "--site", SITE)
    in_tmp = leave_resident_traces(guest)
    page = browser.new_page(viewport=TABLET)
    sign_in(page, live_controller.url, "mia")

    page.goto(f"{live_controller.url}/devices/{public_pc}")
    expect(page.locator("#live-indicator")).to_have_text("Live", timeout=15_000)
    page.get_by_role("button", name="Reset now…").click()
    dialog = page.get_by_role("dialog", name="Are you sure?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Yes, reset now").click()

    row = page.locator("#recent-commands tbody tr").first
    expect(row.locator("[data-cmd=label]")).to_have_text("Reset now")
    expect(row.locator("[data-cmd=state]")).to_have_text("Done", timeout=20_000)
    expect(row.locator("[data-cmd=duration]")).not_to_have_text("—")
    expect(row.locator("[data-cmd=requested_by]")).to_have_text("mia")
    wipe = page.locator("#wipe-reports tbody tr").first
    expect(wipe).to_contain_text("Nothing left", timeout=20_000)
    expect(page.locator("[data-wipe-live]")).to_contain_text("Wipe finished: nothing left")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pc-reset.png"), full_page=True)

    # The next resident finds the site's fresh home, and nothing of the last one.
    files = sorted(str(p.relative_to(guest.home)) for p in guest.home.rglob("*"))
    assert files == ["Desktop", "Desktop/Bienvenue.txt"]
    assert not in_tmp.exists()
    assert wait_until(lambda: not list(guest.home.parent.glob(".borne-wipe-*/*")), timeout=10)
