"""The lockers' panels on a phone, in French, in a real Chromium at 360 px against a real
controller process: a kiosk enrolled and reporting its lockers over the agents' API, an admin
opening a locker from the kiosk's page, a mediator reading the lockers free on the site's page.
Nothing scrolls sideways, and axe-core finds nothing."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, axe_violations, chromium
from tests.e2e.controller_process import DEMO_PLACES, ControllerProcess, heartbeat

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
SITE = "grenoble-bib-centre-ville"
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[ControllerProcess]:
    """A migrated controller with the demo places, serving on a free loopback port."""
    process = ControllerProcess(tmp_path / "controller")
    process.data_dir.mkdir(parents=True)
    process.migrate()
    process.cli("places", "import", str(DEMO_PLACES))
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def lockers_event(seq: int) -> dict[str, Any]:
    """Eight lockers: two charging a phone, one past its time, one out of order."""
    now = dt.datetime.now(dt.UTC)
    states = {1: "occupied", 2: "occupied", 3: "overtime", 8: "out_of_order"}
    return {
        "type": "lockers",
        "seq": seq,
        "at": now.isoformat(),
        "lockers": [
            {
                "number": n,
                "state": states.get(n, "free"),
                "door": "closed",
                "since": (now - dt.timedelta(minutes=10 * n)).isoformat(),
            }
            for n in range(1, 9)
        ],
    }


def signed_in_in_french(browser: Any, base_url: str, username: str) -> Page:
    page = browser.new_page(viewport=PHONE, locale="fr-FR", bypass_csp=True)
    page.goto(f"{base_url}/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Parc", exact=True)).to_be_visible()
    return page


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide at {width[1]} px"


def test_lockers_on_a_phone_in_french(controller: ControllerProcess, browser: Any) -> None:
    controller.add_user("robin", PASSWORD, "admin")
    controller.add_user("mia", PASSWORD, "mediator", "--site", SITE)
    kiosk, secret = controller.enrol_device(SITE, "kiosk", "borne-hall")
    status, body = controller.request(
        "POST",
        "/api/v1/agent/events",
        {"events": [heartbeat(1), lockers_event(2)]},
        auth=(kiosk, secret),
    )
    assert status == 200 and body["stored"] == 2, body
    ARTIFACTS.mkdir(exist_ok=True)

    # An admin opens the locker past its time from the kiosk's page, on a phone.
    admin = signed_in_in_french(browser, controller.url, "robin")
    admin.goto(f"{controller.url}/devices/{kiosk}")
    panel = admin.locator("#lockers")
    expect(panel.get_by_role("heading", name="Casiers 4 casiers libres sur 8")).to_be_visible()
    expect(panel.locator("[data-locker='3']")).to_contain_text(
        "Temps dépassé : personnel seulement"
    )
    no_sideways_scroll(admin)
    assert axe_violations(admin) == []
    panel.screenshot(path=str(ARTIFACTS / "lockers-phone-kiosk.png"))

    panel.get_by_label("Casier", exact=True).select_option("3")
    panel.get_by_label("Pourquoi vous l\u2019ouvrez").fill("la propriétaire est à l\u2019accueil")
    panel.get_by_role("button", name="Ouvrir le casier").click()
    expect(admin.get_by_text("Ouverture du casier 3 envoyée à borne-hall.")).to_be_visible()
    no_sideways_scroll(admin)

    # A mediator reads the lockers free on the site's page; opening is done at the kiosk.
    mediator = signed_in_in_french(browser, controller.url, "mia")
    mediator.get_by_role("link", name="Bibliothèque Centre-Ville").first.click()
    lockers = mediator.locator("#site-lockers")
    expect(lockers).to_contain_text("borne-hall")
    expect(lockers).to_contain_text("4 casiers libres sur 8")
    expect(lockers).to_contain_text("2 casiers demandent le personnel")
    no_sideways_scroll(mediator)
    assert axe_violations(mediator, "#site-lockers") == []
    mediator.screenshot(path=str(ARTIFACTS / "lockers-phone-site.png"), full_page=False)
    mediator.goto(f"{controller.url}/devices/{kiosk}")
    expect(mediator.locator("#lockers")).to_be_visible()
    expect(mediator.get_by_role("button", name="Ouvrir le casier")).to_have_count(0)
    no_sideways_scroll(mediator)
