"""An admin's account pages in Debian's Chromium on a phone (360 px): an API token made and
used by a script, a person's role changed; axe-core finds nothing and nothing scrolls sideways."""

from __future__ import annotations

import shutil
import urllib.request

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, axe_violations, sign_in

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
PHONE = {"width": 360, "height": 740}


def sideways_overflow(page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_an_api_token_is_made_on_a_phone_and_a_script_uses_it(live_controller, browser):
    live_controller.add_user("robin", PASSWORD, "admin")
    page = browser.new_page(viewport=PHONE, bypass_csp=True)  # lets axe-core in
    sign_in(page, live_controller.url, "robin")

    page.goto(f"{live_controller.url}/account/tokens")
    assert axe_violations(page) == [] and sideways_overflow(page) <= 0
    page.get_by_label("Name").fill("ansible inventory")
    page.get_by_label("Read only").check()
    page.get_by_role("button", name="Create the token").click()

    expect(page.get_by_role("heading", name="API token created")).to_be_visible()
    secret = page.locator("#token").inner_text()
    assert axe_violations(page) == [] and sideways_overflow(page) <= 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-token-phone.png"), full_page=True)
    request = urllib.request.Request(
        f"{live_controller.url}/api/v1/devices", headers={"Authorization": f"Bearer {secret}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200

    page.goto(f"{live_controller.url}/account/tokens")
    expect(page.get_by_role("row", name="ansible inventory")).to_contain_text("Read only")
    row = page.get_by_role("row", name="ansible inventory")
    expect(row).to_contain_text("just now")  # its last use


def test_an_admin_changes_a_persons_role_on_a_phone(live_controller, browser):
    live_controller.add_user("robin", PASSWORD, "admin")
    live_controller.add_user("mia", PASSWORD, "mediator", "--site", "grenoble-mdh-teisseire")
    page = browser.new_page(viewport=PHONE, bypass_csp=True)
    sign_in(page, live_controller.url, "robin")

    page.goto(f"{live_controller.url}/users")
    page.get_by_role("link", name="mia").click()
    expect(page.get_by_role("heading", name="Role and places")).to_be_visible()
    assert axe_violations(page) == [] and sideways_overflow(page) <= 0
    page.get_by_label("Role", exact=True).select_option("technician")
    page.get_by_role("button", name="Save role and places").click()

    expect(page.get_by_text("mia is now technician; their sessions have ended.")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "user-page-phone.png"), full_page=True)
