"""A hotspot's "Wifi portal" section in a real Chromium, against a real controller process.

City IT switches the portal to code mode with the form alone; the page then shows the code of
the day and says the settings are on their way (no agent here takes them). A mediator of the
site reads the code but gets no form. axe-core checks the section (WCAG 2.1 AA) on a tablet.
"""

from __future__ import annotations

import re
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

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
SITE = "grenoble-bib-centre-ville"


def test_city_it_sets_code_mode_and_the_mediator_reads_the_code(live_controller, browser):
    live_controller.add_user("alex", PASSWORD, "admin")
    live_controller.add_user("mia", PASSWORD, "mediator", "--site", SITE)
    hotspot, _ = live_controller.enrol_device(SITE, "hotspot", "wifi-accueil")

    admin = browser.new_page(viewport=TABLET, bypass_csp=True)  # lets axe-core in
    sign_in(admin, live_controller.url, "alex")
    admin.goto(f"{live_controller.url}/devices/{hotspot}")
    section = admin.locator("#portal")
    expect(section).to_contain_text("Not set from here yet")
    section.get_by_role("radio", name=re.compile("^Code of the day")).check()
    section.get_by_label("Each connection lasts (minutes)").fill("90")
    section.get_by_role("button", name="Save and send to the hotspot").click()

    expect(
        admin.get_by_text("Wifi portal settings saved and sent to wifi-accueil.")
    ).to_be_visible()
    code = admin.locator(".day-code-value")
    expect(code).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    expect(section).to_contain_text(re.compile(r"Each connection lasts\s*90 minutes"))
    expect(section).to_contain_text("on its way")  # no agent is running to take them
    assert axe_violations(admin, within="#portal") == []
    ARTIFACTS.mkdir(exist_ok=True)
    section.screenshot(path=str(ARTIFACTS / "hotspot-portal.png"))

    mediator = browser.new_page(viewport=TABLET)
    sign_in(mediator, live_controller.url, "mia")
    mediator.goto(f"{live_controller.url}/devices/{hotspot}")
    expect(mediator.locator(".day-code-value")).to_have_text(code.inner_text())
    expect(mediator.get_by_role("button", name="Save and send to the hotspot")).to_have_count(0)
