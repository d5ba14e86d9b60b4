"""The charging kiosk's touch page in a real headless Chromium (Debian's), over a real bank of
simulated lockers: a resident leaves a phone and takes it back, the test's hand shuts the door;
every screen in every language is checked by axe-core (WCAG 2.1 AA) at a kiosk's portrait
screen (1080 x 1920) and a cheap phone's width (360 px), and screenshotted into test-artifacts/.

The page is served as the kiosk role serves it (werkzeug's threaded server on 127.0.0.1, in
this process, so the test can shut a simulated door); its recordings are made once for the
module by what ``make kiosk-audio`` runs (espeak-ng, lame).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, axe_violations
from tests.polling import wait_for

pytest.importorskip("playwright")
pytest.importorskip("flask")
from playwright.sync_api import Page, expect

from agent.kiosk.bank import Bank, BankConfig
from agent.kiosk.drivers import SimulatedBank
from agent.kiosk.store import STORE_FILE, Store
from agent.kiosk.web import TRANSLATIONS_DIR, create_kiosk_app
from agent.protocol import DoorState, LockerState
from agent.spool import Spool
from captive_portal.i18n import LANGUAGES, Catalogues

KIOSK = {"width": 1080, "height": 1920}  # a portrait touch screen
PHONE = {"width": 360, "height": 740}
SIZES = {"kiosk": KIOSK, "phone": PHONE}
HELP = "Demandez à l'accueil, au rez-de-chaussée."

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]

CATALOGUES = Catalogues.load(TRANSLATIONS_DIR)


def words(code: str, message: str, **values: object) -> str:
    return CATALOGUES.gettext_for(code)(message, **values)


@dataclass
class LiveKiosk:
    """The touch page over a bank of eight simulated lockers, on a free loopback port."""

    url: str
    bank: Bank
    lockers: SimulatedBank


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every step read aloud in every language, recorded as ``make kiosk-audio`` does."""
    if shutil.which("espeak-ng") is None or shutil.which("lame") is None:
        pytest.skip("apt-get install espeak-ng lame (make install-test-services)")
    out = tmp_path_factory.mktemp("kiosk-audio")
    subprocess.run([sys.executable, "-m", "agent.kiosk.audio", "--out", str(out)], check=True)
    return out


@pytest.fixture
def kiosk(tmp_path: Path, recordings: Path) -> Iterator[LiveKiosk]:
    from werkzeug.serving import make_server

    lockers = SimulatedBank(8)
    store, spool = Store(tmp_path / STORE_FILE), Spool(tmp_path / "spool.sqlite3")
    bank = Bank(lockers, store, events=spool, config=BankConfig(help_text=HELP))
    server = make_server("127.0.0.1", 0, create_kiosk_app(bank, audio_dir=recordings), True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    stop = threading.Event()

    def tick() -> None:  # as the kiosk role does: the bank reads its doors, applies its rules
        while not stop.wait(0.2):
            bank.tick(datetime.now(UTC))

    ticking = threading.Thread(target=tick, daemon=True)
    serving.start()
    ticking.start()
    yield LiveKiosk(f"http://127.0.0.1:{server.server_port}", bank, lockers)
    stop.set()
    server.shutdown()
    serving.join(10)
    ticking.join(10)
    store.close()
    spool.close()


def locker_shown(page: Page) -> int:
    """The locker's number, from the step's address (``/fr/charge/3``)."""
    found = re.search(r"/(\d+)$", page.url)
    assert found is not None, page.url
    return int(found[1])


def state_of(kiosk: LiveKiosk, number: int) -> LockerState:
    return next(view.state for view in kiosk.bank.lockers() if view.number == number)


def test_a_resident_leaves_a_phone_and_takes_it_back(kiosk: LiveKiosk, browser: Any) -> None:
    # No bypass_csp: the page's own policy must let its script and its recording play.
    context = browser.new_context(viewport=KIOSK, locale="en")
    page = context.new_page()

    page.goto(f"{kiosk.url}/")
    expect(page).to_have_url(f"{kiosk.url}/fr/")  # the site's language first
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Charge your phone here, for free")
    listen = page.locator("audio")
    expect(listen).to_have_accessible_name("Listen")
    expect(listen).to_have_attribute("src", "/audio/home.en.mp3")
    charge = page.get_by_role("button", name=re.compile("^Charge my phone"))
    box = charge.bounding_box()
    assert box is not None and box["height"] >= 150 and box["width"] >= 300  # a big tile

    charge.click()

    number = locker_shown(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Locker {number} is open")
    assert kiosk.lockers.door(number) is DoorState.OPEN
    door = page.get_by_role("status")
    expect(door).to_have_text("The door is open.")
    kiosk.lockers.shut(number)  # the resident's hand
    expect(door).to_have_text("The door is closed. Tap Done.")  # the page's script saw it
    page.get_by_role("button", name="Done").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your phone is locked in")
    expect(page.locator(".ticket")).to_contain_text(f"Locker {number}")
    code = page.locator(".code").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{6}", code)
    assert code not in page.url
    assert state_of(kiosk, number) is LockerState.OCCUPIED
    page.get_by_role("link", name="I have my code").click()

    expect(page).to_have_url(f"{kiosk.url}/fr/")  # the next resident starts in French
    page.get_by_role("link", name="Reprendre mon téléphone").click()
    page.get_by_role("link", name=f"Casier {number}", exact=True).click()
    wrong = "000000" if code != "000000" else "111111"
    for digit in wrong:  # the big keypad, typed by the script into the field
        page.get_by_role("button", name=digit, exact=True).click()
    expect(
        page.get_by_label("Tapez votre code à 6 chiffres, puis appuyez sur Ouvrir.")
    ).to_have_value(wrong)
    page.get_by_role("button", name="Ouvrir", exact=True).click()

    expect(page.get_by_role("alert")).to_contain_text(
        words(
            "fr",
            "This code does not open locker %(number)s. Check it and try again.",
            number=number,
        )
    )
    assert kiosk.lockers.door(number) is DoorState.CLOSED
    field = page.get_by_label("Tapez votre code à 6 chiffres, puis appuyez sur Ouvrir.")
    expect(field).to_have_attribute("aria-invalid", "true")
    field.fill(code)
    field.press("Enter")  # the form's own button is Open, not a digit

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Le casier {number} est ouvert")
    assert kiosk.lockers.door(number) is DoorState.OPEN
    assert state_of(kiosk, number) is LockerState.FREE
    context.close()


def test_a_code_left_on_screen_is_hidden_after_a_warning(kiosk: LiveKiosk, browser: Any) -> None:
    """A resident who walks away must not leave the code to the next person: after a minute
    untouched the page asks, and a tap keeps the code; unanswered, it is gone 30 s later."""
    context = browser.new_context(viewport=SIZES["kiosk"], locale="fr", bypass_csp=True)
    page = context.new_page()
    page.clock.install()
    page.goto(f"{kiosk.url}/fr/")
    page.get_by_role("button", name=re.compile("^Recharger mon téléphone")).click()
    kiosk.lockers.shut(locker_shown(page))
    page.get_by_role("button", name="Terminé").click()
    code = page.locator(".code")
    expect(code).to_be_visible()
    asked = page.get_by_role("alertdialog", name="Êtes-vous toujours là ?")
    expect(asked).to_be_hidden()

    page.clock.run_for("01:01")
    expect(asked).to_be_visible()
    assert axe_violations(page) == []
    asked.get_by_role(
        "button", name="Oui, garder mon code à l\N{RIGHT SINGLE QUOTATION MARK}écran"
    ).click()
    expect(asked).to_be_hidden()
    page.clock.run_for("00:59")
    expect(code).to_be_visible()

    page.clock.run_for("00:02")
    expect(asked).to_be_visible()
    page.clock.run_for("00:31")

    expect(page).to_have_url(f"{kiosk.url}/fr/")
    expect(page.locator(".code")).to_have_count(0)
    context.close()


def test_the_flow_works_without_javascript(kiosk: LiveKiosk, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="ar")
    page = context.new_page()

    page.goto(f"{kiosk.url}/ar/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_role("button", name=re.compile(f"^{words('ar', 'Charge my phone')}")).click()
    number = locker_shown(page)
    page.get_by_role("button", name=words("ar", "Done")).click()  # the door is still open
    expect(page.get_by_role("alert")).to_have_text(
        words("ar", "The door is still open. Push it shut until it clicks, then tap again.")
    )
    kiosk.lockers.shut(number)
    page.get_by_role("button", name=words("ar", "Done")).click()
    code = page.locator(".code").inner_text().replace(" ", "")
    page.goto(f"{kiosk.url}/ar/take/{number}")
    for digit in code[:-1] + "9":  # one digit wrong, then erased
        page.get_by_role("button", name=digit, exact=True).click()
    page.get_by_role("button", name=words("ar", "Erase the last digit")).click()
    page.get_by_role("button", name=code[-1], exact=True).click()
    field = page.get_by_label(words("ar", "Type your 6-digit code, then tap Open."))
    expect(field).to_have_value(code)  # each digit brought the page back with one more

    page.get_by_role("button", name=words("ar", "Open"), exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        words("ar", "Locker %(number)s is open", number=number)
    )
    assert kiosk.lockers.door(number) is DoorState.OPEN
    context.close()


def check(page: Page, name: str, code: str, size: str) -> None:
    """axe-core finds nothing, nothing scrolls sideways, and a screenshot is kept."""
    expect(page.locator("html")).to_have_attribute("lang", code)
    assert axe_violations(page) == [], f"{name} in {code} at {size}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} in {code} at {size} scrolls sideways by {overflow}px"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"kiosk-{name}-{code}-{size}.png"), full_page=True)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("code", [language.code for language in LANGUAGES])
def test_every_screen_is_accessible_in_every_language(
    kiosk: LiveKiosk, browser: Any, code: str, size: str
) -> None:
    # bypass_csp lets axe-core in: the page's policy allows only its own script, as it should.
    context = browser.new_context(viewport=SIZES[size], locale=code, bypass_csp=True)
    page = context.new_page()
    base = f"{kiosk.url}/{code}"

    page.goto(f"{base}/")
    check(page, "home", code, size)
    charge = re.compile(f"^{re.escape(words(code, 'Charge my phone'))}")
    page.get_by_role("button", name=charge).click()
    number = locker_shown(page)
    check(page, "charge", code, size)
    page.get_by_role("button", name=words(code, "Done"), exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    check(page, "charge-door-open", code, size)
    kiosk.lockers.shut(number)
    page.get_by_role("button", name=words(code, "Done"), exact=True).click()
    expect(page.locator(".code")).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    secret = page.locator(".code").inner_text().replace(" ", "")
    check(page, "code", code, size)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        words(code, "This code was already shown")
    )
    check(page, "code-shown", code, size)
    page.goto(f"{base}/take")
    check(page, "take", code, size)
    page.get_by_role("link", name=words(code, "Locker %(number)s", number=number)).click()
    check(page, "keypad", code, size)
    page.get_by_label(words(code, "Type your 6-digit code, then tap Open.")).fill("12")
    page.get_by_role("button", name=words(code, "Open"), exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        words(code, "A code has 6 digits. Type all 6, then tap Open.")
    )
    check(page, "keypad-error", code, size)
    page.get_by_label(words(code, "Type your 6-digit code, then tap Open.")).fill(secret)
    page.get_by_role("button", name=words(code, "Open"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        words(code, "Locker %(number)s is open", number=number)
    )
    check(page, "opened", code, size)
    page.goto(f"{base}/staff")
    check(page, "staff", code, size)
    until = int(datetime.now(UTC).timestamp()) + 4 * 60
    for problem in ("locker_paused", "overtime", "no_free_locker", "not_occupied", "stale"):
        page.goto(f"{base}/problem/{problem}?until={until}&locker={number}")
        expect(page.get_by_role("link", name=words(code, "Back to the start"))).to_be_visible()
        check(page, f"problem-{problem}", code, size)
    kiosk.lockers.failing = True  # the lock board stops answering; the next tick sees it
    wait_for(lambda: not kiosk.bank.status().driver_ok, what="the bank to see its board silent")
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        words(code, "The lockers are not working right now")
    )
    check(page, "home-driver-down", code, size)
    context.close()
