"""Commands from the staff UI in a real Chromium, against a real controller process, with a
device whose agent is a real Socket.IO client in this test process.

The row of a command sent from the device page must reach "Done" with the device's output without
a reload; the confirmation of a disruptive command must work from the keyboard alone.
"""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, TABLET, sign_in
from tests.e2e.controller_process import wait_until
from tests.e2e.fake_agent import ScriptedAgent

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
SITE = "grenoble-bib-centre-ville"


@pytest.fixture
def agent_factory():
    agents: list[ScriptedAgent] = []

    def start(url: str, device_id: str, secret: str, output: str, last_seq: int) -> ScriptedAgent:
        agents.append(ScriptedAgent(url, device_id, secret, output=output, last_seq=last_seq))
        return agents[-1].connect()

    yield start
    for agent in agents:
        agent.close()


def test_lock_from_the_device_page_shows_done_with_the_output_without_reloading(
    live_controller, browser, agent_factory
):
    live_controller.add_user("alex", PASSWORD, "admin")
    device_id, secret = live_controller.enrol_device(SITE, "pc", "pc-accueil-1")
    live_controller.send_heartbeat(device_id, secret, 1)
    agent_factory(live_controller.url, device_id, secret, "locked", 1)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_controller.url, "alex")

    page.goto(f"{live_controller.url}/devices/{device_id}")
    expect(page.locator("#live-indicator")).to_have_text("Live", timeout=15_000)
    page.evaluate("window.notReloaded = true")  # gone if the page reloads
    page.get_by_role("button", name="Lock the screen", exact=True).click()

    row = page.locator("#recent-commands tbody tr").first
    expect(row.locator("[data-cmd=state]")).to_have_text("Done", timeout=15_000)
    expect(row.locator("[data-cmd=label]")).to_have_text("Lock the screen")
    expect(row.locator("[data-cmd=requested_by]")).to_have_text("alex")
    expect(row.locator("[data-cmd=duration]")).to_have_text("42 ms")
    expect(row.locator("[data-cmd=output] summary")).to_have_text("locked")
    row.locator("[data-cmd=output] summary").click()
    expect(row.locator("[data-cmd=output] pre")).to_be_visible()
    expect(page.locator("[data-command-feedback]")).to_contain_text(
        "Lock the screen: sent to pc-accueil-1"
    )
    assert page.evaluate("window.notReloaded") is True

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "device-commands.png"), full_page=True)


def test_confirmation_dialog_works_from_the_keyboard(live_controller, browser, agent_factory):
    live_controller.add_user("sam", PASSWORD, "admin")
    device_id, secret = live_controller.enrol_device(SITE, "pc", "pc-accueil-2")
    live_controller.send_heartbeat(device_id, secret, 1)
    agent = agent_factory(live_controller.url, device_id, secret, "rebooting", 1)
    page = browser.new_page(viewport=TABLET)
    sign_in(page, live_controller.url, "sam")
    page.goto(f"{live_controller.url}/devices/{device_id}")
    expect(page.locator("#live-indicator")).to_have_text("Live", timeout=15_000)
    restart = page.get_by_role("button", name="Restart…")
    dialog = page.get_by_role("dialog", name="Are you sure?")

    restart.focus()
    page.keyboard.press("Enter")  # opens the dialog, focus on Cancel
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Restart the device now?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")  # closes it, sends nothing
    expect(dialog).to_be_hidden()
    expect(restart).to_be_focused()
    expect(page.locator("#recent-commands tbody tr")).to_have_count(0)

    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Yes, restart")).to_be_focused()
    page.keyboard.press("Enter")

    expect(dialog).to_be_hidden()
    row = page.locator("#recent-commands tbody tr").first
    expect(row.locator("[data-cmd=label]")).to_have_text("Restart")
    expect(row.locator("[data-cmd=state]")).to_have_text("Done", timeout=15_000)
    wait_until(lambda: agent.reported, timeout=10, message="the agent's acknowledged result")
    assert len(agent.reported) == 1  # sent once, run once
    page.screenshot(path=str(ARTIFACTS / "device-commands-confirm.png"), full_page=True)


def test_site_wide_lock_shows_the_batch_live(live_controller, browser, agent_factory):
    live_controller.add_user("robin", PASSWORD, "admin")
    devices = [live_controller.enrol_device(SITE, "pc", f"pc-salle-{n}") for n in (1, 2)]
    for device_id, secret in devices:
        live_controller.send_heartbeat(device_id, secret, 1)
        agent_factory(live_controller.url, device_id, secret, "screen locked", 1)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_controller.url, "robin")
    page.locator(".site-card").get_by_role("link", name="Bibliothèque Centre-Ville").click()
    expect(page.locator("#live-indicator")).to_have_text("Live", timeout=15_000)

    page.get_by_role("button", name="Lock all screens… 2 devices").click()
    page.get_by_role("dialog").get_by_role("button", name="Yes, lock all screens").click()

    rows = page.locator("#recent-commands tbody tr")
    expect(rows).to_have_count(2)
    for n in (0, 1):
        expect(rows.nth(n).locator("[data-cmd=state]")).to_have_text("Done", timeout=15_000)
    devices_shown = sorted(page.locator("#recent-commands [data-cmd=device]").all_inner_texts())
    assert devices_shown == ["pc-salle-1", "pc-salle-2"]
    page.screenshot(path=str(ARTIFACTS / "site-commands.png"), full_page=True)
