"""The public pages of places in a real headless Chromium (Debian's), as a resident sees them on a
cheap phone (360 px): every language with its direction and zero axe-core violations (WCAG 2.1
AA), no sideways scroll, the live state changing without a reload, the list complete with the
map's tiles blocked and with JavaScript off, and "Places near me" putting the nearest open first.

The controller is served in this process (werkzeug's threaded server on 127.0.0.1) over a
SQLite file, so that the test changes a PC's state in the database and waits for the page to
say so. No request leaves the machine: the tile server's are aborted, as on a poor connection.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, axe_violations

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from agent.protocol import DeviceKind
from captive_portal.i18n import LANGUAGES
from controller.fleet.models import Device, DeviceStatus
from tests.factories import make_device, make_organisation, make_site

PHONE = {"width": 360, "height": 740}
OUTSIDE = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")  # the tile server, anything not local

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]


@dataclass
class LiveSite:
    url: str
    sessions: Any  # sessionmaker of the served app's database
    pcs: list[str]  # the ids of the library's public PCs


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    from werkzeug.serving import make_server

    from controller import create_app, migrate

    folder = tmp_path_factory.mktemp("places")
    url = f"sqlite:///{folder / 'borne.sqlite3'}"
    migrate.upgrade(url)
    app = create_app(
        {"database_url": url, "data_dir": str(folder), "async_mode": "threading",
         "secret_key": "browser-test", "timezone": "Europe/Paris"}
    )  # fmt: skip
    sessions = app.extensions["borne.db"].sessions
    with sessions() as db:
        pcs = _places(db)
        db.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    yield LiveSite(f"http://127.0.0.1:{server.server_port}", sessions, pcs)
    server.shutdown()
    serving.join(10)
    app.extensions["borne.ingest"].stop()
    app.extensions["borne.db"].dispose()


def _places(db: Session) -> list[str]:
    city = make_organisation(db, name="Ville")
    library = make_site(
        db, city, slug="mediatheque", name="Médiathèque Centre", address="1 place Grenette",
        postcode="38000", latitude=45.1885, longitude=5.7245, opening_hours="24/7",
    )  # fmt: skip
    make_site(
        db, city, slug="maison-quartier", name="Maison de quartier", address="9 rue Très-Cloîtres",
        postcode="38000", latitude=45.1925, longitude=5.7310, opening_hours="24/7",
        services=["Aide aux démarches administratives"],
    )  # fmt: skip
    make_site(
        db, city, slug="sunday", name="Espace du dimanche", latitude=45.1886, longitude=5.7246,
        opening_hours="Su 01:00-01:30", accessibility_url="https://acceslibre.beta.gouv.fr/x/",
    )  # fmt: skip
    pcs = [
        make_device(
            db, library, kind=DeviceKind.PC, status=DeviceStatus.ONLINE, metrics={"state": {}}
        ).id
        for _ in range(2)
    ]
    make_device(db, library, kind=DeviceKind.HOTSPOT, status=DeviceStatus.ONLINE,
                metrics={"state": {"portal": "running"}})  # fmt: skip
    return pcs


def offline_page(browser: Any, **options: Any) -> Page:
    context = browser.new_context(viewport=PHONE, **options)
    context.route(OUTSIDE, lambda route: route.abort())
    return context.new_page()


def no_sideways_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.code)
def test_every_language_at_360_px(served: LiveSite, browser: Any, language: Any) -> None:
    page = offline_page(browser, bypass_csp=True)  # to inject axe-core; the others keep it
    page.goto(f"{served.url}/places?lang={language.code}")

    html = page.locator("html")
    expect(html).to_have_attribute("lang", language.code)
    expect(html).to_have_attribute("dir", language.direction)
    expect(page.locator("#map .leaflet-marker-icon")).to_have_count(3)  # the map is drawn
    expect(page.locator(".place")).to_have_count(3)
    assert no_sideways_scroll(page)
    assert axe_violations(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"places-{language.code}.png"), full_page=True)

    page.goto(f"{served.url}/places/mediatheque?lang={language.code}")
    expect(page.locator("table.week tr")).to_have_count(7)
    assert no_sideways_scroll(page)
    assert axe_violations(page) == []
    page.context.close()


def test_the_live_state_changes_without_a_reload(served: LiveSite, browser: Any) -> None:
    page = offline_page(browser, locale="en")
    page.clock.install()
    page.goto(f"{served.url}/places?lang=en")
    pcs = page.locator("#place-mediatheque [data-live=pcs]")
    expect(pcs).to_have_text("2 of 2 computers free")
    page.evaluate("window.notReloaded = true")

    with served.sessions() as db:
        pc = db.get(Device, served.pcs[0])
        assert pc is not None
        pc.metrics = {"state": {"session": "active"}}
        db.commit()
    page.clock.run_for(31_000)  # the page polls every 30 s

    expect(pcs).to_have_text("1 of 2 computers free")
    assert page.evaluate("window.notReloaded") is True
    with served.sessions() as db:
        pc = db.get(Device, served.pcs[0])
        assert pc is not None
        pc.metrics = {"state": {}}
        db.commit()
    page.context.close()


def test_the_list_is_complete_without_tiles_and_markers_lead_to_it(
    served: LiveSite, browser: Any
) -> None:
    page = offline_page(browser, locale="en")  # every tile request is aborted
    page.goto(f"{served.url}/places?lang=en")

    expect(page.locator(".place h3")).to_have_text(
        ["Espace du dimanche", "Maison de quartier", "Médiathèque Centre"]
    )
    page.get_by_role("button", name="Maison de quartier").click()
    page.locator(".leaflet-popup-content a").click()
    assert page.url.endswith("#place-maison-quartier")
    expect(page.locator("#place-maison-quartier")).to_be_in_viewport()
    page.context.close()


def test_the_list_works_without_javascript(served: LiveSite, browser: Any) -> None:
    page = offline_page(browser, locale="en", java_script_enabled=False)
    page.goto(f"{served.url}/places?lang=en")

    expect(page.locator(".place")).to_have_count(3)
    expect(page.locator("#place-mediatheque [data-live=pcs]")).to_have_text("2 of 2 computers free")
    expect(page.locator("#map-section")).to_be_hidden()
    expect(page.get_by_role("button", name="Places near me")).to_be_hidden()
    page.get_by_role("link", name="Médiathèque Centre").click()
    expect(page.get_by_role("heading", name="Médiathèque Centre")).to_be_visible()
    page.context.close()


def test_places_near_me_puts_the_nearest_open_first(served: LiveSite, browser: Any) -> None:
    page = offline_page(
        browser,
        locale="en",
        geolocation={"latitude": 45.1926, "longitude": 5.7311},  # at the Maison de quartier
        permissions=["geolocation"],
    )
    page.goto(f"{served.url}/places?lang=en")

    page.get_by_role("button", name="Places near me").click()

    expect(page).to_have_url(re.compile(r"lat=45\.193&lon=5\.731"))
    expect(page.locator(".place h3")).to_have_text(
        ["Maison de quartier", "Médiathèque Centre", "Espace du dimanche"]
    )
    expect(page.locator("#place-maison-quartier .distance")).to_contain_text("m away")
    page.context.close()
