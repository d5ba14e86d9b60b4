"""The captive portal's pages in a real headless Chromium (Debian's), served by the real
``borne portal run`` over HTTP and HTTPS on loopback, with axe-core checking WCAG 2.1 AA.

Every language is rendered at 360 px wide (a cheap phone), checked by axe-core (vendored in
``vendor/axe.min.js``, see its README), weighed, screenshotted into ``test-artifacts/``, then
Connect is tapped. All browser traffic comes from 127.0.0.1, one client for the portal, so the
checks that need a client that has not tapped yet start a portal of their own. The pages read
aloud are recorded once for the module by the real ``borne portal audio`` (espeak-ng, lame).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``audio_dir = …`` for a portal's settings: every page read aloud, in every language."""
    if shutil.which("espeak-ng") is None or shutil.which("lame") is None:
        pytest.skip("apt-get install espeak-ng lame (make install-test-services)")
    out = tmp_path_factory.mktemp("audio")
    borne = Path(sys.executable).with_name("borne")
    subprocess.run([str(borne), "portal", "audio", "--out", str(out)], check=True)
    return f'audio_dir = "{out}"\n'


CATALOGUES = Catalogues.load()


def words(code: str, message: str, **values: str) -> str:
    return CATALOGUES.gettext_for(code)(message, **values)


def words_around(code: str, message: str, placeholder: str) -> re.Pattern[str]:
    """The translation of ``message`` with anything in place of ``%(placeholder)s``."""
    before, after = words(code, message).split(f"%({placeholder})s")
    return re.compile(f"^{re.escape(before)}.+{re.escape(after)}$")


@pytest.mark.parametrize("code", [language.code for language in LANGUAGES])
def test_splash_page_is_accessible_light_and_connects_in_every_language(
    tmp_path, recordings, browser, code
):
    language = next(lang for lang in LANGUAGES if lang.code == code)
    # A portal of its own: once this client is online, the start page has nothing to tap.
    with running_portal(tmp_path / "portal", recordings) as portal:
        # The browser's own language setting picks the page's language (Accept-Language).
        # bypass_csp lets axe-core in: the portal's CSP forbids every script, as it should.
        context = browser.new_context(viewport=PHONE, locale=code, bypass_csp=True)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))

        page.goto(f"{portal.url}/")

        html = page.locator("html")
        expect(html).to_have_attribute("lang", code)
        expect(html).to_have_attribute("dir", "rtl" if language.rtl else "ltr")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            words(code, "Go online for free, in one tap")
        )
        connect = page.get_by_role("button", name=words(code, "Connect"))
        expect(connect).to_be_visible()
        listen = page.locator("audio")
        expect(listen).to_have_accessible_name(words(code, "Listen"))
        expect(listen).to_have_attribute("src", f"/audio/splash.{code}.mp3")
        # No other asset: CSS and pictograms are inline, the recording waits for a tap on play.
        assert requests == [f"{portal.url}/"]
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

        expect(page).to_have_url(f"{portal.url}/online")
        expect(page.get_by_role("heading", level=1)).to_have_text(words(code, "You are online"))
        assert axe_violations(page) == []

        page.goto(f"{portal.url}/")  # back later: until when, and nothing to tap

        expect(page.get_by_role("heading", level=1)).to_have_text(
            words_around(code, "You are online until %(time)s", "time")
        )
        assert page.get_by_role("button").count() == 0
        assert page.locator("input, form").count() == 0
        assert axe_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / f"portal-back-{code}.png"), full_page=True)
        context.close()


@pytest.mark.parametrize(("code", "mode"), [("fa-AF", "click"), ("uk", "closed")])
def test_the_listen_button_plays_the_page_in_its_language_under_its_own_policy(
    tmp_path, recordings, browser, code, mode
):
    settings = recordings + f'mode = "{mode}"\n'
    with running_portal(tmp_path / "portal", settings) as portal:
        # No bypass_csp: the page's own policy must let its recording play.
        context = browser.new_context(viewport=PHONE, locale=code)
        page = context.new_page()
        page.goto(f"{portal.url}/")
        listen = page.get_by_label(words(code, "Listen"))
        expect(listen).to_be_visible()

        # What a tap on play starts: the browser fetches the recording and reads its length
        # (evaluate runs as the test, not as the page, which still runs no script).
        seconds = page.evaluate(
            """() => new Promise(done => {
                const player = document.querySelector('audio');
                player.addEventListener('loadedmetadata', () => done(player.duration));
                player.addEventListener('error', () => done(-1));
                player.preload = 'metadata';
                player.load();
            })"""
        )

        assert seconds > 1
        page_name = "closed" if mode == "closed" else "splash"
        answer = page.request.get(f"{portal.url}/audio/{page_name}.{code}.mp3")
        assert answer.status == 200 and answer.headers["content-type"] == "audio/mpeg"
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

        expect(page.get_by_role("heading", level=1)).to_have_text(
            words(code, "Type the code to go online for free")
        )

        field.fill("000 000")
        page.get_by_role("button", name=words(code, "Connect")).click()

        expect(page.get_by_role("alert")).to_have_text(
            words(code, "This code does not work. Check it, or ask the staff at the desk.")
        )
        field = page.get_by_label(words(code, "Code"), exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_value("000 000")  # what was typed, to check and correct
        assert axe_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / f"portal-code-error-{code}.png"), full_page=True)
        context.close()


@pytest.mark.parametrize("code", ["ar", "fa-AF", "ro"])
def test_closed_and_problem_pages_are_accessible(tmp_path, recordings, browser, code):
    with running_portal(tmp_path / "portal", recordings + 'mode = "closed"\n') as portal:
        context = browser.new_context(viewport=PHONE, locale=code, bypass_csp=True)
        page = context.new_page()

        page.goto(f"{portal.url}/")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            words(code, "The wifi is closed now")
        )
        expect(page.get_by_label(words(code, "Listen"))).to_be_visible()
        assert axe_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / f"portal-closed-{code}.png"), full_page=True)

        answer = page.goto(f"{portal.url}/no-such-page?lang=tr")
        assert answer is not None and answer.status == 404
        expect(page.get_by_role("link", name=words("tr", "Back to the start page"))).to_be_visible()
        assert axe_violations(page) == []
        context.close()
