"""Every staff page reachable from the fleet page, in Debian's Chromium with a French browser, at
360 and 1,280 px, as an admin and as a mediator: in French (``<html lang="fr">``), nothing
scrolls sideways, and axe-core finds no WCAG 2.1 AA violation. One page of each kind (one
site's page stands for every site's; a PC's and a hotspot's for devices). Screenshots of each
page at 360 px are kept in ``test-artifacts/pages/`` for people to look at."""

from __future__ import annotations

import re
import shutil
from urllib.parse import urljoin, urlsplit

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, axe_violations

pytest.importorskip("playwright")
from playwright.sync_api import expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
SITE = "grenoble-mdh-teisseire"
# Not pages: downloads, the API, signing out.
NOT_PAGES = re.compile(r"^/(api/|static/|logout|metrics|healthz)|\.csv(\?|$)")
MOST_PAGES = 60  # the crawl stops there: a page that links to endless others is a bug too
# One page of each kind: /sites/12 stands for every site's page, /devices/<uuid> for devices'.
AN_ID = re.compile(r"/(\d+|[0-9a-f]{8}-[0-9a-f-]{27})(?=/|$)")


def kind_of(path: str) -> str:
    return AN_ID.sub("/<id>", path)


def links_of(page, base_url: str) -> list[str]:
    """The staff pages the open page links to (paths), leaving out lists' filters and pages."""
    found = []
    for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
        parts = urlsplit(href)
        same_site = parts.netloc == urlsplit(base_url).netloc and not parts.query
        if same_site and not NOT_PAGES.search(parts.path) and parts.path not in found:
            found.append(parts.path)
    return found


def check_page(page, url: str) -> list[str]:
    """What is wrong with the page at ``url``, in words; nothing when it is right."""
    answer = page.goto(url)
    problems = []
    if answer is None or answer.status >= 400:
        problems.append(f"{url}: answered {answer.status if answer else 'nothing'}")
    if page.get_attribute("html", "lang") != "fr":
        problems.append(f"{url}: <html lang> is {page.get_attribute('html', 'lang')!r}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        problems.append(f"{url}: {overflow} px wider than the screen")
    for violation in axe_violations(page):
        problems.append(f"{url}: axe {violation['id']}: {violation['nodes'][:2]}")
    return problems


@pytest.mark.parametrize("role", ["admin", "mediator"])
def test_every_staff_page_is_french_fits_a_phone_and_passes_axe(live_controller, browser, role):
    live_controller.add_user("robin", PASSWORD, "admin")
    live_controller.add_user("mia", PASSWORD, "mediator", "--site", SITE)
    pc, secret = live_controller.enrol_device(SITE, "pc", "pc-accueil")
    live_controller.send_heartbeat(pc, secret, 1)
    hotspot, _ = live_controller.enrol_device(SITE, "hotspot", "wifi-accueil")
    username = "robin" if role == "admin" else "mia"
    problems: list[str] = []
    shots = ARTIFACTS / "pages"
    shots.mkdir(parents=True, exist_ok=True)

    # On a phone, every page reachable from the fleet page, breadth first; then the same pages
    # on a desktop screen.
    phone = browser.new_context(viewport=PHONE, locale="fr-FR", bypass_csp=True).new_page()
    sign_in_french(phone, live_controller.url, username)
    # A ticket, so that a ticket's page is among them.
    phone.goto(f"{live_controller.url}/devices/{pc}/report?category=screen")
    phone.get_by_role("button", name="Envoyer").click()
    expect(phone.get_by_role("heading", level=1)).to_contain_text("pc-accueil")
    ticket = urlsplit(phone.url).path
    seen: list[str] = []
    # Each kind of device its page, and the ticket's.
    queue = ["/", f"/devices/{pc}", f"/devices/{hotspot}", ticket]
    while queue and len(seen) < MOST_PAGES:
        path = queue.pop(0)
        seen.append(path)
        problems += check_page(phone, urljoin(live_controller.url, path))
        name = f"{role}-{path.strip('/').replace('/', '_') or 'fleet'}.png"
        phone.screenshot(path=str(shots / name), full_page=True)
        kinds = {kind_of(p) for p in seen + queue}
        for link in links_of(phone, live_controller.url):
            if kind_of(link) not in kinds:
                queue.append(link)
                kinds.add(kind_of(link))
    phone.context.close()
    assert len(seen) > 3, seen
    desktop = browser.new_context(viewport=DESKTOP, locale="fr-FR", bypass_csp=True).new_page()
    sign_in_french(desktop, live_controller.url, username)
    for path in seen:
        problems += check_page(desktop, urljoin(live_controller.url, path))
    desktop.context.close()

    assert problems == []


def sign_in_french(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
