"""The staff UI in a real headless Chromium (Debian's), against a real controller process.

A heartbeat sent to the controller's API must show on the open fleet page without a reload
(Socket.IO namespace ``/live``); the page must work from the keyboard and on a tablet. A
full-page screenshot is kept in ``test-artifacts/`` for people to look at.
"""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, TABLET, sign_in

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]


def test_fleet_page_shows_a_heartbeat_live_without_reloading(live_controller, browser):
    live_controller.add_user("alex", PASSWORD, "admin")
    pc, pc_secret = live_controller.enrol_device("grenoble-bib-centre-ville", "pc", "pc-accueil-1")
    live_controller.enrol_device("grenoble-bib-centre-ville", "pc", "pc-accueil-2")
    kiosk, kiosk_secret = live_controller.enrol_device(
        "grenoble-bib-kateb-yacine", "kiosk", "borne-recharge-1"
    )
    live_controller.enrol_device("grenoble-bib-kateb-yacine", "hotspot", "wifi-hall")
    live_controller.send_heartbeat(kiosk, kiosk_secret, 1)

    page = browser.new_page(viewport=TABLET)
    sign_in(page, live_controller.url, "alex")
    row = page.locator(f'tr[data-device-id="{pc}"]')
    status = row.locator("[data-field=status]")
    expect(status).to_have_text("New")
    expect(page.locator("#live-indicator")).to_have_text("Live", timeout=15_000)
    page.evaluate("window.notReloaded = true")  # gone if the page reloads

    live_controller.send_heartbeat(pc, pc_secret, 1)

    expect(status).to_have_text("Online", timeout=15_000)
    expect(status).to_have_attribute("data-status", "online")
    expect(row.locator("[data-field=cpu_percent]")).to_have_text("13 %")
    expect(row.locator("[data-field=last_seen_at]")).to_have_text("just now")
    site_link = page.get_by_role("link", name="Bibliothèque Centre-Ville", exact=True)
    site_card = page.locator(".site-card", has=site_link)
    expect(site_card.locator('[data-count="online"]')).to_have_text("1")
    expect(site_card.locator('[data-count="new"]')).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True

    expect(page.locator(".status.changed")).to_have_count(0)  # the highlight has faded
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "fleet.png"), full_page=True)


def test_fleet_page_works_from_the_keyboard(live_controller, browser):
    live_controller.add_user("sam", PASSWORD, "admin")
    page = browser.new_page(viewport=TABLET)
    sign_in(page, live_controller.url, "sam")

    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to main content")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_visible()  # hidden until focused, then shown
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="borne Public digital access")).to_be_focused()
    page.keyboard.press("Tab")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Fleet")
    ).to_be_focused()

    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # follow the skip link
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")  # the first control of the page itself
    expect(page.get_by_role("link", name="need attention")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator(".site-card a").first).to_be_focused()

    page.get_by_label("Site", exact=True).select_option(label="Bibliothèque Kateb Yacine")
    page.get_by_label("Sort by").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Show")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Devices at Bibliothèque Kateb Yacine")).to_be_visible()


def test_enrolment_token_is_made_in_the_browser(live_controller, browser):
    live_controller.add_user("robin", PASSWORD, "admin")
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    sign_in(page, live_controller.url, "robin")

    page.get_by_role("link", name="Enrolment").click()
    page.get_by_label("Site").select_option(label="Bibliothèque Kateb Yacine")
    page.get_by_label("Kind of device").select_option(label="Charging kiosk")
    page.get_by_role("button", name="Create token").click()

    command = page.locator("#enrol-command")
    expect(command).to_contain_text(
        f"borne agent enrol --controller {live_controller.url} --token bet_"
    )
    expect(command).to_contain_text("--kind kiosk")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "token-phone.png"), full_page=True)
