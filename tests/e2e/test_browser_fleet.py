"""The fleet at a glance, in Debian's Chromium against a real controller: a public PC whose wipe
left something shows "Login locked" in every list and keeps it when its next heartbeat arrives
live; a device is found, renamed, moved and retired from the pages; on a phone (360 px) nothing
scrolls sideways, the device rows are cards, and axe-core finds no WCAG 2.1 AA violation.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from tests.e2e.browser_testkit import (
    ARTIFACTS,
    CHROMIUM,
    PASSWORD,
    TABLET,
    axe_violations,
    sign_in,
)
from tests.e2e.controller_process import heartbeat

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
PHONE = {"width": 360, "height": 740}
SITE = "grenoble-bib-centre-ville"


def sideways_overflow(page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def locking_wipe(seq: int) -> dict[str, object]:
    """What a public PC sends when its wipe left something: it locked its guest login."""
    now = dt.datetime.now(dt.UTC).isoformat()
    return {
        "type": "wipe_report", "seq": seq, "at": now, "started_at": now, "ready_ms": 150,
        "wipe_ms": 2100, "removed_files": 42, "removed_bytes": 1 << 20, "leftovers_total": 1,
        "leftovers": [{"area": "tmp", "path": "/tmp/cv.pdf", "reason": "immutable"}],
        "login_locked": True,
    }  # fmt: skip


def test_a_locked_pc_stays_locked_on_a_phone_when_its_heartbeat_comes_live(
    live_controller, browser
):
    live_controller.add_user("alex", PASSWORD, "admin")
    pc, secret = live_controller.enrol_device(SITE, "pc", "pc-accueil-1")
    live_controller.enrol_device(SITE, "pc", "pc-accueil-2")
    live_controller.send_heartbeat(pc, secret, 1)
    status, body = live_controller.request(
        "POST", "/api/v1/agent/events", {"events": [locking_wipe(2)]}, auth=(pc, secret)
    )
    assert status == 200, body

    page = browser.new_page(viewport=PHONE, bypass_csp=True)  # lets axe-core in
    sign_in(page, live_controller.url, "alex")
    row = page.locator(f'tr[data-device-id="{pc}"]')
    expect(row.locator('[data-concern="login_locked"]')).to_have_text("Login locked")
    expect(row.locator('[data-concern="open_alert"]')).to_have_text("Open alert")
    expect(page.locator("#live-indicator")).to_have_text("Live", timeout=15_000)

    live_controller.send_heartbeat(pc, secret, 3)

    expect(row.locator("[data-field=last_seen_at]")).to_have_text("just now", timeout=15_000)
    expect(row.locator("[data-field=cpu_percent]")).to_have_text("13 %", timeout=15_000)
    expect(row.locator('[data-concern="login_locked"]')).to_have_text("Login locked")
    expect(row.locator("[data-field=status]")).to_have_text("Online")
    assert row.evaluate("r => getComputedStyle(r).display") == "grid"  # a card, not a table row
    assert axe_violations(page) == [] and sideways_overflow(page) <= 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "fleet-phone.png"), full_page=True)

    page.get_by_label("Alerts and locks").select_option(label="Login locked")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tr[data-device-id]")).to_have_count(1)
    expect(page.get_by_text("1 device", exact=True)).to_be_visible()

    page.locator(f'tr[data-device-id="{pc}"] th a').click()
    header = page.locator(".device-condition")
    expect(header.locator('[data-concern="login_locked"]')).to_have_text("Login locked")
    page.get_by_text("Technical details").click()
    expect(page.get_by_text("Network cards (MAC)")).to_be_visible()
    assert axe_violations(page) == [] and sideways_overflow(page) <= 0
    page.screenshot(path=str(ARTIFACTS / "device-locked-phone.png"), full_page=True)

    page.get_by_role("link", name="Bibliothèque Centre-Ville").first.click()
    site_row = page.locator(f'tr[data-device-id="{pc}"]')
    expect(site_row.locator('[data-concern="login_locked"]')).to_have_text("Login locked")
    assert axe_violations(page, within="section:has(> #devices-title)") == []
    assert sideways_overflow(page) <= 0


def test_a_technician_finds_renames_moves_and_retires_a_device(live_controller, browser):
    live_controller.add_user("sam", PASSWORD, "admin")
    pc, _secret = live_controller.enrol_device(SITE, "pc", "pc-salle-7")
    live_controller.enrol_device(SITE, "pc", "pc-salle-8")
    page = browser.new_page(viewport=TABLET, bypass_csp=True)
    sign_in(page, live_controller.url, "sam")

    page.get_by_label("Search").fill("salle-7")
    page.get_by_label("Sort by").select_option(label="Last seen")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tr[data-device-id]")).to_have_count(1)
    assert axe_violations(page) == []
    page.get_by_role("link", name="pc-salle-7").click()

    page.get_by_label("Name", exact=True).fill("PC by the window")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_text("pc-salle-7 is now called PC by the window.")).to_be_visible()
    page.get_by_label("New site").select_option(label="Bibliothèque Kateb Yacine")
    page.get_by_role("button", name="Move").click()
    expect(
        page.get_by_text("PC by the window is now at Bibliothèque Kateb Yacine.")
    ).to_be_visible()
    assert axe_violations(page) == []

    page.get_by_text("Retire this device…").click()
    expect(
        page.get_by_text("Its history (sessions, wipes, commands, audit log) is kept.")
    ).to_be_visible()
    page.get_by_role("button", name="Yes, retire it").click()
    expect(page.get_by_text("its history is kept.")).to_be_visible()
    status, body = live_controller.request(
        "POST", "/api/v1/agent/events", {"events": [heartbeat(1)]}, auth=(pc, _secret)
    )
    assert status == 401 and body["error"] == "device_retired"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Fleet").click()
    expect(page.locator(f'tr[data-device-id="{pc}"]')).to_have_count(0)
