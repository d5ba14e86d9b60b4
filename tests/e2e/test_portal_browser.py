"""The captive portal's pages in a real headless Chromium (Debian's), served by the real
``borne portal run`` over HTTP and HTTPS on loopback, with axe-core checking WCAG 2.1 AA.

Every language is rendered at 360 px wide (a cheap phone), checked by axe-core (vendored in
``vendor/axe.min.js``, see its README), weighed, screenshotted into ``test-artifacts/``, then
Connect is tapped. All browser traffic comes from 127.0.0.1, one client for the portal, so the
checks that need a client that has not tapped yet start a portal of their own.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, axe_violations
from tests.e2e.portal_testkit import HOSTNAME, LivePortal, running_portal

pytest.importorskip("playwright")
from playwright.sync_api import expect

from captive_portal.i18n import LANGUAGES, Catalogues

PHONE = {"width": 360, "height": 740}
MAX_PAGE_BYTES = 30 * 1024

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]


@pytest.fixture(scope="module")
def live_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    with running_portal(tmp_path_factory.mktemp("portal")) as portal:
        yield portal


CATALOGUES = Catalogues.load()


def words(code: str, message: str) -> str:
    return CATALOGUES.gettext_for(code)(message)


@pytest.mark.parametrize("code", [language.code for language in LANGUAGES])
def test_splash_page_is_accessible_light_and_connects_in_every_language(live_portal, browser, code):
    language = next(lang for lang in LANGUAGES if lang.code == code)
    # The browser's own language setting picks the page's language (Accept-Language).
    # bypass_csp lets axe-core in: the portal's CSP forbids every script, as it should.
    context = browser.new_context(viewport=PHONE, locale=code, bypass_csp=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{live_portal.url}/")

    html = page.locator("html")
    expect(html).to_have_attribute("lang", code)
    expect(html).to_have_attribute("dir", "rtl" if language.rtl else "ltr")
    connect = page.get_by_role("button", name=words(code, "Connect"))
    expect(connect).to_be_visible()
    assert requests == [f"{live_portal.url}/"]  # no other asset: CSS and pictograms are inline
    weight = page.evaluate("performance.getEntriesByType('navigation')[0].decodedBodySize")
    assert 0 < weight < MAX_PAGE_BYTES
    assert axe_violations(page) == []
    box = connect.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300  # a big target
    connect.focus()
    ring = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert ring != "none"  # visible focus
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"portal-{code}.png"), full_page=True)

    connect.click()

    expect(page).to_have_url(f"{live_portal.url}/online")
    expect(page.get_by_role("heading", level=1)).to_have_text(words(code, "You are online"))
    assert axe_violations(page) == []
    context.close()


def test_tapping_connect_frees_the_client_over_http_and_https(tmp_path, browser):
    with running_portal(tmp_path / "portal") as portal:
        content_type, before = portal.captive_status(https=True)
        assert content_type == "application/captive+json"
        assert before["captive"] is True
        assert before["user-portal-url"] == f"https://{HOSTNAME}:{portal.https_port}/"
        context = browser.new_context(viewport=PHONE, locale="fr")
        page = context.new_page()

        page.goto(f"{portal.url}/")
        page.get_by_role("button", name="Se connecter").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("Vous êtes en ligne")
        _, over_http = portal.captive_status()
        _, over_https = portal.captive_status(https=True)
        assert over_http["captive"] is False and over_https["captive"] is False
        assert 0 < int(over_https["seconds-remaining"]) <= 4 * 3600
        context.close()
        output = portal.stop()
    # No request log: it would record residents' browsing.
    assert "GET /" not in output and "POST /" not in output


def test_the_portal_works_without_javascript(tmp_path, browser):
    with running_portal(tmp_path / "portal") as portal:
        context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="ar")
        page = context.new_page()

        page.goto(f"{portal.url}/")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        page.get_by_role("link", name="English").click()
        page.get_by_role("button", name="Connect").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("You are online")
        assert portal.captive_status()[1]["captive"] is False
        context.close()


def test_the_splash_page_is_served_over_https_too(live_portal, browser):
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True, locale="tr")
    page = context.new_page()

    page.goto(f"{live_portal.https_url}/")

    expect(page.get_by_role("button", name="Bağlan")).to_be_visible()
    context.close()


@pytest.mark.parametrize("code", ["ar", "fr"])
def test_code_entry_and_its_error_are_accessible(tmp_path, browser, code):
    settings = 'mode = "code"\ncode_secret = "browser test secret"\n'
    with running_portal(tmp_path / "portal", settings) as portal:
        context = browser.new_context(viewport=PHONE, locale=code, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{portal.url}/")
        field = page.get_by_label(words(code, "Code"), exact=True)
        assert axe_violations(page) == []

        field.fill("000000")
        page.get_by_role("button", name=words(code, "Connect")).click()

        expect(page.get_by_role("alert")).to_have_text(
            words(code, "This code does not work. Check it, or ask the staff at the desk.")
        )
        expect(page.get_by_label(words(code, "Code"), exact=True)).to_have_attribute(
            "aria-invalid", "true"
        )
        assert axe_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / f"portal-code-error-{code}.png"), full_page=True)
        context.close()


def test_closed_and_problem_pages_are_accessible(tmp_path, browser):
    with running_portal(tmp_path / "portal", 'mode = "closed"\n') as portal:
        context = browser.new_context(viewport=PHONE, locale="ar", bypass_csp=True)
        page = context.new_page()

        page.goto(f"{portal.url}/")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            words("ar", "The wifi is closed now")
        )
        assert axe_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / "portal-closed-ar.png"), full_page=True)

        answer = page.goto(f"{portal.url}/no-such-page?lang=tr")
        assert answer is not None and answer.status == 404
        expect(page.get_by_role("link", name=words("tr", "Back to the start page"))).to_be_visible()
        assert axe_violations(page) == []
        context.close()
