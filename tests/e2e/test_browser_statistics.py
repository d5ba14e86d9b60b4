"""A manager reads the statistics in French, in a real Chromium against a real controller
process, on a phone (360 px) and on a desktop (1,280 px): sites ranked, charts drawn beside
their tables, the hours of the week, CSV links; no sideways scroll, nothing for axe-core.

The usage comes the way it does in production: two public PCs send their residents' sessions
to the controller's agent API, which rolls them up as it stores them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, axe_violations

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
SITE = "grenoble-bib-centre-ville"  # Tu-Sa 10:00-18:00
ORGANISATION = "Bibliothèques de Grenoble"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def send_sessions(controller, device_id: str, secret: str, days: int) -> None:
    """Sessions over the last ``days`` days: five to eight a day, across hours."""
    today = dt.datetime.now(dt.UTC).replace(hour=9, minute=5, second=0, microsecond=0)
    events = []
    seq = 0
    for back in range(days):
        start = today - dt.timedelta(days=back)
        for n in range(5 + back % 4):
            seq += 1
            begins = start + dt.timedelta(minutes=70 * n)
            ends = begins + dt.timedelta(minutes=45 + 5 * n)
            events.append(
                {
                    "type": "session",
                    "seq": seq,
                    "at": ends.isoformat(),
                    "started_at": begins.isoformat(),
                    "ended_at": ends.isoformat(),
                    "ended_by": ["logout", "idle", "max_duration"][n % 3],
                }
            )
    status, body = controller.request(
        "POST", "/api/v1/agent/events", {"events": events}, auth=(device_id, secret)
    )
    assert status == 200 and body["stored"] == len(events), body


def backdate_enrolments(database: Path, days: int) -> None:
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).replace(tzinfo=None)
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE devices SET enrolled_at = ?", (since.isoformat(" "),))


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide at {width[1]} px"


def sign_in_in_french(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("link", name="Statistiques")).to_be_visible()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_manager_reads_the_statistics_in_french(live_controller, browser, viewport):
    live_controller.add_user("manon", PASSWORD, "manager", "--org", ORGANISATION)
    for name in ("pc-salle-1", "pc-salle-2"):
        device_id, secret = live_controller.enrol_device(SITE, "pc", name)
        send_sessions(live_controller, device_id, secret, days=12)
    # The PCs have served for two weeks (enrolled before the controller counted their opening
    # hours): the rebuild counts them from the raw rows.
    backdate_enrolments(live_controller.data_dir / "borne.sqlite3", days=14)
    live_controller.cli("statistics", "rebuild")

    page = browser.new_page(viewport=viewport, locale="fr-FR", bypass_csp=True)  # for axe-core
    sign_in_in_french(page, live_controller.url, "manon")
    page.get_by_role("link", name="Statistiques").click()

    expect(page.get_by_role("heading", name="Statistiques", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Lieux côte à côte")).to_be_visible()
    sites = page.locator("#table-sites tbody tr")
    expect(sites.first.locator("td").first).to_have_text("Bibliothèque Centre-Ville")
    expect(page.locator("#table-sites")).not_to_contain_text("Bibliothèque Kateb Yacine < 5")
    # The charts are drawn (Chart.js gave their canvas a size), each beside its table.
    for chart in ("#chart-sites", "#chart-days", "#chart-ended"):
        expect(page.locator(chart)).to_have_attribute("role", "img")
        assert page.locator(chart).evaluate("c => c.width > 0 && c.height > 0"), chart
    expect(page.locator(".week-hours li").first).to_be_visible()
    expect(page.get_by_role("link", name="Ce tableau en CSV").first).to_be_visible()

    no_sideways_scroll(page)
    assert axe_violations(page) == []

    # One site of the organisation: its devices, side by side.
    page.get_by_label("Lieu", exact=True).select_option(label="Bibliothèque Centre-Ville")
    page.get_by_role("button", name="Afficher").click()
    expect(
        page.get_by_role("heading", name="Les appareils de Bibliothèque Centre-Ville")
    ).to_be_visible()
    expect(page.locator("#table-devices")).to_contain_text("pc-salle-1")
    no_sideways_scroll(page)
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"statistics-{viewport['width']}.png"), full_page=True)
    page.close()
