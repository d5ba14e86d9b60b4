"""The kiosk's touch page (agent/kiosk/web.py) through Flask's test client, over a real bank of
simulated lockers: every step, every error in words, double taps, and nothing kept that the
bank does not keep. Chromium drives the same page in tests/e2e/test_browser_kiosk.py."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from click.testing import CliRunner
from flask.testing import FlaskClient
from kiosk_testkit import Clock
from markupsafe import escape

from agent.kiosk import audio
from agent.kiosk.bank import Bank, BankConfig, KioskErrorCode
from agent.kiosk.codes import hash_staff_pin
from agent.kiosk.drivers import SimulatedBank
from agent.kiosk.web import PROBLEMS, TRANSLATIONS_DIR, create_kiosk_app
from agent.protocol import DoorState, LockerState
from captive_portal.i18n import BY_CODE, LANGUAGES, Catalogues

CODES = [language.code for language in LANGUAGES]
CATALOGUES = Catalogues.load(TRANSLATIONS_DIR)
PLACEHOLDER = re.compile(r"%\(\w+\)s")
TOKEN = re.compile(r'name="token" value="([^"]+)"')
PIN = "4821"
needs_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("lame") is None,
    reason="apt-get install espeak-ng lame (make install-test-services)",
)


def words(code: str, message: str, **values: object) -> str:
    """``message`` in the language ``code`` as the page writes it (HTML-escaped)."""
    return str(escape(CATALOGUES.gettext_for(code)(message, **values)))


# --- the page over a bank --------------------------------------------------------------------


class Screen:
    """The kiosk's screen as a resident uses it: follow links, tap the buttons of the page."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.html = ""
        self.status = 0
        self.locations: list[str] = []

    def open(self, path: str) -> str:
        answer = self.client.get(path)
        self.status, self.html = answer.status_code, answer.get_data(as_text=True)
        assert "Set-Cookie" not in answer.headers  # the screen is shared: it remembers nothing
        return self.html

    def tap(self, action: str, **fields: str) -> str:
        """Submit the form of the page posting to ``action`` (its own token), follow the 303."""
        form = re.search(rf'<form[^>]*action="{re.escape(action)}".*?</form>', self.html, re.S)
        assert form is not None, f"no form to {action} on the page"
        token = TOKEN.search(form[0])
        data = {"token": token[1]} if token else {}
        return self.post(action, data | fields)

    def post(self, action: str, data: dict[str, str]) -> str:
        answer = self.client.post(action, data=data)
        assert answer.status_code == 303, answer.get_data(as_text=True)
        assert "Set-Cookie" not in answer.headers
        self.locations.append(answer.headers["Location"])
        return self.open(answer.headers["Location"])

    @property
    def heading(self) -> str:
        found = re.search(r"<h1[^>]*>(.*?)</h1>", self.html, re.S)
        assert found is not None
        return unescape(re.sub(r"<svg.*?</svg>", "", found[1], flags=re.S)).strip()

    @property
    def alert(self) -> str:
        found = re.search(r'role="alert">(.*?)</p>', self.html, re.S)
        return unescape(found[1]).strip() if found else ""

    @property
    def code(self) -> str:
        found = re.search(r'<p class="code" dir="ltr">([0-9 ]+)</p>', self.html)
        assert found is not None, "no code on the page"
        return found[1].replace(" ", "")


@pytest.fixture
def make_screen(clock: Clock) -> Callable[..., Screen]:
    def build(bank: Bank, **kwargs: Any) -> Screen:
        app = create_kiosk_app(bank, clock=clock, **kwargs)
        return Screen(app.test_client())

    return build


@pytest.fixture
def screen(bank: Bank, make_screen: Callable[..., Screen]) -> Screen:
    return make_screen(bank)


def state_of(bank: Bank, number: int) -> LockerState:
    return next(view.state for view in bank.lockers() if view.number == number)


def deposit(screen: Screen, lockers: SimulatedBank, lang: str = "fr") -> tuple[int, str]:
    """Leave a phone through the page; the locker's number and the code shown."""
    screen.open(f"/{lang}/")
    screen.tap(f"/{lang}/charge")
    number = int(screen.locations[-1].rsplit("/", 1)[1])
    lockers.shut(number)
    screen.tap(f"/{lang}/charge/{number}/done")
    return number, screen.code


# --- the resident's steps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "start"),
    [("ar", "ar"), ("pt_BR", "pt"), ("fa", "fa-AF"), ("de", "fr")],  # not ours: the city's
)
def test_the_screen_starts_in_the_sites_language(
    make_bank, make_screen, site: str, start: str
) -> None:
    screen = make_screen(make_bank(config=BankConfig(language=site)))

    answer = screen.client.get("/")

    assert answer.status_code == 303 and answer.headers["Location"] == f"/{start}/"
    html = screen.open(f"/{start}/")
    assert f'<html lang="{start}" dir="{BY_CODE[start].direction}">' in html
    assert words(start, "Charge my phone") in html


def test_a_phone_goes_in_with_a_code_shown_once_and_comes_back_out_with_it(
    screen: Screen, bank: Bank, lockers: SimulatedBank
) -> None:
    screen.open("/en/")
    assert "Free lockers: 8" in screen.html

    screen.tap("/en/charge")

    number = int(screen.locations[-1].rsplit("/", 1)[1])
    assert screen.heading == f"Locker {number} is open"
    assert lockers.door(number) is DoorState.OPEN
    assert "The door is open." in screen.html
    screen.tap(f"/en/charge/{number}/done")  # the phone is in, the door not shut yet
    assert screen.alert.startswith("The door is still open.")
    assert state_of(bank, number) is LockerState.DEPOSIT

    lockers.shut(number)
    screen.open(f"/en/charge/{number}")
    assert "The door is closed. Tap Done." in screen.html
    screen.tap(f"/en/charge/{number}/done")

    assert screen.heading == "Your phone is locked in"
    assert f"Locker {number}" in screen.html
    code = screen.code
    assert len(code) == 6 and state_of(bank, number) is LockerState.OCCUPIED
    assert not any(code in location for location in screen.locations)  # never in a URL
    code_page = screen.locations[-1]
    screen.open(code_page)  # a refresh, the back button: the code is not there any more
    assert screen.status == 410 and code not in screen.html.replace(" ", "")
    assert screen.heading == "This code was already shown"

    screen.open("/en/take")
    screen.open(f"/en/take/{number}")
    screen.tap(f"/en/take/{number}", code=f"{code[:3]} {code[3:]}")  # as shown, with its space

    assert screen.heading == f"Locker {number} is open"
    assert "Unplug your phone, take it, and close the door." in screen.html
    assert lockers.door(number) is DoorState.OPEN
    assert state_of(bank, number) is LockerState.FREE


def test_going_back_to_a_step_that_is_over_goes_to_the_start(
    screen: Screen, lockers: SimulatedBank
) -> None:
    number, _code = deposit(screen, lockers)

    answer = screen.client.get(f"/fr/charge/{number}")  # the back button after the code

    assert answer.status_code == 303 and answer.headers["Location"] == "/fr/"


def test_cancel_frees_the_locker_once_its_door_is_shut(
    screen: Screen, bank: Bank, lockers: SimulatedBank
) -> None:
    screen.open("/fr/")
    screen.tap("/fr/charge")
    number = int(screen.locations[-1].rsplit("/", 1)[1])

    screen.tap(f"/fr/charge/{number}/cancel")
    assert screen.alert == unescape(
        words("fr", "The door is still open. Push it shut until it clicks, then tap again.")
    )
    lockers.shut(number)
    screen.tap(f"/fr/charge/{number}/cancel")

    assert screen.locations[-1] == "/" and state_of(bank, number) is LockerState.FREE


def test_only_the_lockers_holding_a_phone_are_offered_to_take_back(
    screen: Screen, lockers: SimulatedBank
) -> None:
    first, _ = deposit(screen, lockers)
    second, _ = deposit(screen, lockers)

    html = screen.open("/fr/take")

    assert sorted(int(n) for n in re.findall(r'href="/fr/take/(\d+)"', html)) == sorted(
        [first, second]
    )
    assert screen.client.get("/fr/take/8").headers["Location"] == "/fr/take"  # empty: not here


def test_the_on_screen_keypad_types_without_a_script(
    screen: Screen, lockers: SimulatedBank
) -> None:
    number, _code = deposit(screen, lockers)
    screen.open(f"/fr/take/{number}")
    assert 'inputmode="numeric"' in screen.html and 'autocomplete="off"' in screen.html

    typed = screen.client.post(f"/fr/take/{number}/keys", data={"typed": "12", "key": "3"})
    erased = screen.client.post(f"/fr/take/{number}/keys", data={"typed": "123", "key": "erase"})
    full = screen.client.post(f"/fr/take/{number}/keys", data={"typed": "123456", "key": "7"})
    junk = screen.client.post(f"/fr/take/{number}/keys", data={"typed": "1", "key": "x"})

    assert 'name="code" type="text"' in typed.get_data(as_text=True)
    assert 'maxlength="12" value="123"' in typed.get_data(as_text=True)
    assert 'value="12"' in erased.get_data(as_text=True)
    assert 'maxlength="12" value="123456"' in full.get_data(as_text=True)
    assert junk.status_code == 400


def test_wrong_codes_say_how_many_tries_are_left_then_pause_the_locker(
    screen: Screen, bank: Bank, lockers: SimulatedBank
) -> None:
    number, code = deposit(screen, lockers)
    wrong = "000000" if code != "000000" else "111111"
    screen.open(f"/fr/take/{number}")

    for left in (4, 3, 2, 1):
        screen.tap(f"/fr/take/{number}", code=wrong)
        assert screen.alert == unescape(
            words(
                "fr",
                "This code does not open locker %(number)s. Check it and try again.",
                number=number,
            )
            + " "
            + words("fr", "Tries left before a pause: %(count)s", count=left)
        )
        assert 'aria-invalid="true"' in screen.html
    screen.tap(f"/fr/take/{number}", code=wrong)

    assert screen.heading == "Ce casier est en pause"
    assert "Réessayez dans 1 minute." in screen.html
    assert state_of(bank, number) is LockerState.OCCUPIED
    assert lockers.door(number) is DoorState.CLOSED


def test_a_code_of_the_wrong_length_is_a_clear_message_and_counts_for_nothing(
    screen: Screen, bank: Bank, lockers: SimulatedBank
) -> None:
    number, _code = deposit(screen, lockers)
    screen.open(f"/es/take/{number}")

    screen.tap(f"/es/take/{number}", code="1234")

    assert screen.alert == unescape(words("es", "A code has 6 digits. Type all 6, then tap Open."))
    assert bank.store.locker(number).wrong_codes == 0  # type: ignore[union-attr]


def test_a_locker_that_does_not_exist_is_said_so_and_nothing_opens(
    screen: Screen, lockers: SimulatedBank
) -> None:
    screen.open("/fr/take")
    token = TOKEN.search(screen.open("/fr/"))[1]  # type: ignore[index]

    screen.post("/fr/take/99", {"token": token, "code": "123456"})

    assert screen.heading == unescape(words("fr", "This locker does not exist"))
    assert all(lockers.door(n) is DoorState.CLOSED for n in range(1, 9))


def test_the_keypad_paused_for_everyone_says_how_long(
    screen: Screen, lockers: SimulatedBank
) -> None:
    numbers = [deposit(screen, lockers)[0] for _ in range(3)]
    for number in numbers:  # wrong codes on three lockers: a guesser, not a forgetful owner
        screen.open(f"/fr/take/{number}")
        screen.tap(f"/fr/take/{number}", code="999999")

    screen.open("/fr/")
    answer = screen.client.get("/fr/take")
    screen.open(answer.headers["Location"])

    assert screen.heading == "Le clavier est en pause"
    assert "Réessayez dans 5 minutes." in screen.html


def test_overtime_says_only_staff_can_open_it_and_where_to_ask(
    make_bank, make_screen, lockers: SimulatedBank, clock: Clock
) -> None:
    help_text = "Demandez à Samira, bureau 2, ou appelez le 04 76 00 00 00."
    bank = make_bank(config=BankConfig(max_charge_min=60, help_text=help_text))
    screen = make_screen(bank)
    number, code = deposit(screen, lockers)
    clock.advance(minutes=61)
    bank.tick(clock())

    screen.open(f"/fr/take/{number}")
    screen.tap(f"/fr/take/{number}", code=code)

    assert screen.heading == "Le temps de recharge est dépassé"
    assert f'<p lang="fr">{help_text}</p>' in screen.html
    assert lockers.door(number) is DoorState.CLOSED


def test_a_driver_that_does_not_answer_opens_nothing_and_says_where_to_ask(
    make_bank, make_screen, lockers: SimulatedBank, clock: Clock
) -> None:
    bank = make_bank(config=BankConfig(help_text="Accueil, rez-de-chaussée"))
    screen = make_screen(bank)
    screen.open("/fr/")
    lockers.failing = True

    screen.tap("/fr/charge")  # tapped on the page shown before the board went silent

    assert screen.heading == "Les casiers ne fonctionnent pas en ce moment"
    assert "Accueil, rez-de-chaussée" in screen.html
    bank.tick(clock())
    home = screen.open("/fr/")
    assert "/fr/charge" not in home and "/fr/take" not in home
    lockers.failing = False
    assert all(lockers.door(n) is DoorState.CLOSED for n in range(1, 9))


def test_out_of_service_takes_no_phone_but_gives_them_back(
    make_bank, make_screen, lockers: SimulatedBank
) -> None:
    screen = make_screen(make_bank())
    number, code = deposit(screen, lockers)
    bank = make_bank(config=BankConfig(out_of_service=True))  # the kiosk restarted, switched off
    screen = make_screen(bank)

    home = screen.open("/en/")

    assert screen.heading == "The lockers are out of service"
    assert 'action="/en/charge"' not in home and 'href="/en/take"' in home
    screen.open(f"/en/take/{number}")
    screen.tap(f"/en/take/{number}", code=code)
    assert screen.heading == f"Locker {number} is open"


def test_all_lockers_in_use_is_said_on_the_start_page(
    screen: Screen, lockers: SimulatedBank
) -> None:
    for _ in range(8):
        deposit(screen, lockers)

    home = screen.open("/tr/")

    assert words("tr", "All lockers are in use. Come back a little later.") in home
    assert 'action="/tr/charge"' not in home


# --- double taps and forms from elsewhere ------------------------------------------------------


def test_a_double_tap_on_charge_opens_one_locker(screen: Screen, bank: Bank) -> None:
    token = TOKEN.search(screen.open("/fr/"))[1]  # type: ignore[index]

    first = screen.client.post("/fr/charge", data={"token": token})
    second = screen.client.post("/fr/charge", data={"token": token})

    assert first.headers["Location"] == second.headers["Location"]
    assert [v.state for v in bank.lockers()].count(LockerState.DEPOSIT) == 1


class HeldDoors:
    """The simulated lockers, with each unlock held until the test lets it go: a second tap
    arrives while the first one's door is still moving."""

    def __init__(self, lockers: SimulatedBank) -> None:
        self.lockers = lockers
        self.count = lockers.count
        self.unlocking = threading.Event()
        self.go = threading.Event()

    def unlock(self, number: int) -> None:
        self.unlocking.set()
        assert self.go.wait(10)
        self.lockers.unlock(number)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lockers, name)


def test_a_double_tap_while_the_door_moves_opens_one_locker_and_shows_one_page(
    make_bank, make_screen, lockers: SimulatedBank
) -> None:
    doors = HeldDoors(lockers)
    bank = make_bank(driver=doors)
    screen = make_screen(bank)
    token = TOKEN.search(screen.open("/fr/"))[1]  # type: ignore[index]
    answers: list[str] = []

    def tap() -> None:
        answer = screen.client.application.test_client().post("/fr/charge", data={"token": token})
        answers.append(answer.headers["Location"])

    taps = [threading.Thread(target=tap) for _ in range(2)]
    taps[0].start()
    assert doors.unlocking.wait(10)
    taps[1].start()
    doors.go.set()
    for thread in taps:
        thread.join(10)

    assert len(answers) == 2 and answers[0] == answers[1]
    assert [v.state for v in bank.lockers()].count(LockerState.DEPOSIT) == 1


def test_a_double_tap_on_done_makes_one_code_that_both_answers_may_show(
    screen: Screen, lockers: SimulatedBank, clock: Clock
) -> None:
    screen.open("/fr/")
    screen.tap("/fr/charge")
    number = int(screen.locations[-1].rsplit("/", 1)[1])
    lockers.shut(number)
    token = TOKEN.search(screen.html)[1]  # type: ignore[index]

    answers = [
        screen.client.post(f"/fr/charge/{number}/done", data={"token": token}) for _ in range(2)
    ]

    [location] = {answer.headers["Location"] for answer in answers}
    first, second = screen.open(location), screen.open(location)  # the browser followed both
    assert 'class="code"' in first and first == second
    assert screen.client.get(location).status_code == 410  # and no third time


def test_the_second_view_of_a_double_tap_is_for_that_moment_only(
    screen: Screen, lockers: SimulatedBank, clock: Clock
) -> None:
    screen.open("/fr/")
    screen.tap("/fr/charge")
    number = int(screen.locations[-1].rsplit("/", 1)[1])
    lockers.shut(number)
    token = TOKEN.search(screen.html)[1]  # type: ignore[index]
    for _ in range(2):
        location = screen.client.post(f"/fr/charge/{number}/done", data={"token": token})
    screen.open(location.headers["Location"])

    clock.advance(seconds=30)  # the resident went away; someone taps Back

    assert screen.client.get(location.headers["Location"]).status_code == 410


def test_a_double_tap_on_open_counts_one_wrong_code(
    screen: Screen, bank: Bank, lockers: SimulatedBank
) -> None:
    number, _code = deposit(screen, lockers)
    token = TOKEN.search(screen.open(f"/fr/take/{number}"))[1]  # type: ignore[index]

    for _ in range(2):
        screen.client.post(f"/fr/take/{number}", data={"token": token, "code": "000001"})

    assert bank.store.locker(number).wrong_codes == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("token", ["", "a token the page never handed out"])
def test_a_form_the_page_did_not_hand_out_does_nothing(
    screen: Screen, bank: Bank, token: str
) -> None:
    screen.post("/fr/charge", {"token": token} if token else {})

    assert screen.heading == unescape(words("fr", "This page is out of date"))
    assert all(view.state is LockerState.FREE for view in bank.lockers())


def test_a_request_for_another_host_is_refused(screen: Screen) -> None:
    answer = screen.client.get("/fr/", headers={"Host": "kiosk.attacker.example"})

    assert answer.status_code == 400


def test_pages_are_never_cached_and_run_only_their_own_script(screen: Screen) -> None:
    answer = screen.client.get("/fr/")

    assert answer.headers["Cache-Control"] == "no-store"
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy


# --- staff ------------------------------------------------------------------------------------


@pytest.fixture
def staffed_bank(make_bank) -> Bank:
    return make_bank(
        config=BankConfig(staff_pins={"amina": hash_staff_pin(PIN, iterations=10_000)})
    )


def test_staff_open_a_locker_with_their_pin_and_a_reason(
    staffed_bank: Bank, make_screen, lockers: SimulatedBank
) -> None:
    screen = make_screen(staffed_bank)
    number, _code = deposit(screen, lockers)
    assert screen.client.get("/staff").headers["Location"] == "/fr/staff"
    screen.open("/fr/staff")
    assert 'type="password" inputmode="numeric" autocomplete="off"' in screen.html

    screen.tap(
        "/fr/staff", username="amina", pin=PIN, locker=str(number), reason="téléphone oublié"
    )

    assert screen.heading == f"Le casier {number} est ouvert"
    assert lockers.door(number) is DoorState.OPEN
    assert state_of(staffed_bank, number) is LockerState.FREE


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"username": "amina", "pin": "0000", "locker": "1", "reason": "test"}, "bad_pin"),
        ({"username": "nobody", "pin": PIN, "locker": "1", "reason": "test"}, "bad_pin"),
        ({"username": "amina", "pin": PIN, "locker": "1", "reason": " "}, "missing"),
        ({"username": "amina", "pin": PIN, "locker": "", "reason": "test"}, "missing"),
        ({"username": "amina", "pin": PIN, "locker": "42", "reason": "test"}, "no_such_locker"),
    ],
)
def test_a_staff_opening_refused_says_why_and_opens_nothing(
    staffed_bank: Bank, make_screen, lockers: SimulatedBank, fields: dict[str, str], error: str
) -> None:
    screen = make_screen(staffed_bank)
    screen.open("/en/staff")

    screen.tap("/en/staff", **fields)

    expected = {
        "bad_pin": "Wrong username or PIN. Check them and try again.",
        "missing": "Fill in every field.",
        "no_such_locker": "This locker does not exist.",
    }[error]
    assert screen.alert == expected
    assert PIN not in screen.html and all(lockers.door(n) is DoorState.CLOSED for n in range(1, 9))


# --- receipts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prints", "said"),
    [
        (True, "Your receipt is printing: take it with you."),
        (False, "The receipt printer is not working: write your code down."),
    ],
)
def test_the_code_is_printed_where_a_printer_is_attached(
    bank: Bank, make_screen, lockers: SimulatedBank, prints: bool, said: str
) -> None:
    printed: list[tuple[int, str]] = []

    def printer(number: int, code: str) -> bool:
        printed.append((number, code))
        return prints

    screen = make_screen(bank, print_receipt=printer)

    number, code = deposit(screen, lockers, lang="en")

    assert printed == [(number, code)]
    assert said in screen.html


def test_without_a_printer_the_page_says_nothing_of_receipts(
    screen: Screen, lockers: SimulatedBank
) -> None:
    deposit(screen, lockers, lang="en")

    assert "receipt" not in screen.html


# --- words in every language -----------------------------------------------------------------


def test_every_error_of_the_bank_has_its_words() -> None:
    assert {code.value for code in KioskErrorCode} <= PROBLEMS


@pytest.mark.parametrize("code", CODES)
def test_every_error_is_said_in_every_language(screen: Screen, code: str) -> None:
    generic = words(code, "We did not understand this request")
    for problem in sorted(PROBLEMS - {"bad_request"}):
        html = screen.open(f"/{code}/problem/{problem}?locker=3")
        assert screen.status == 200, problem
        assert f'<html lang="{code}"' in html
        assert generic not in html, f"{problem} has no words of its own"
        assert words(code, "Back to the start") in html


def test_a_pause_says_how_long_it_lasts_in_the_residents_language(
    screen: Screen, clock: Clock
) -> None:
    until = int(clock().timestamp()) + 4 * 60

    for code, expected in [
        ("fr", "Réessayez dans 4 minutes."),
        ("ar", "حاول مرة أخرى بعد 4 دقائق."),
        ("uk", "Спробуйте ще раз через 4 хвилини."),
    ]:
        html = screen.open(f"/{code}/problem/locker_paused?until={until}")
        assert expected in html, code
    clock.advance(minutes=5)
    assert "Vous pouvez réessayer maintenant." in screen.open(
        f"/fr/problem/locker_paused?until={until}"
    )
    typed_by_hand = screen.open(f"/fr/problem/locker_paused?until={until + 10**9}")
    assert "Réessayez" not in typed_by_hand and "maintenant" not in typed_by_hand


@pytest.mark.parametrize("code", ["ar", "fa-AF"])
def test_arabic_and_dari_are_written_right_to_left(screen: Screen, code: str) -> None:
    assert f'<html lang="{code}" dir="rtl">' in screen.open(f"/{code}/")


def test_the_language_switch_keeps_the_step_and_the_code_page_has_none(
    screen: Screen, lockers: SimulatedBank
) -> None:
    number, _code = deposit(screen, lockers)
    assert "<nav" not in screen.html  # switching would load the page again: the code is gone

    html = screen.open(f"/fr/take/{number}")

    for code, name in [("ar", "العربية"), ("uk", "Українська"), ("fa-AF", "دری")]:
        assert f'<a href="/{code}/take/{number}" lang="{code}"' in html
        assert f">{name}</a>" in html
    assert 'lang="fr" hreflang="fr" dir="ltr" aria-current="true"' in html
    assert screen.client.get("/xx/").status_code == 404


def template_messages() -> set[str]:
    found = extract_from_dir(
        str(TRANSLATIONS_DIR.parent), method_map=[("templates/**.html", "jinja2")]
    )
    return {message for _file, _line, message, _comments, _context in found}


def read_catalogue(code: str) -> Any:
    path = TRANSLATIONS_DIR / BY_CODE[code].locale / "LC_MESSAGES" / "messages.po"
    with open(path, "rb") as fh:
        return read_po(fh, locale=BY_CODE[code].locale)


@pytest.mark.parametrize("code", CODES)
def test_every_message_is_translated_with_its_placeholders(code: str) -> None:
    catalogue = read_catalogue(code)
    translated = {m.id: m.string for m in catalogue if m.id}

    assert sorted(m for m in template_messages() if not translated.get(m)) == []
    assert not any(m.fuzzy for m in catalogue if m.id)
    for message in catalogue:
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.string)) == sorted(
                PLACEHOLDER.findall(message.id)
            ), message.id


@pytest.mark.parametrize("code", CODES)
def test_compiled_catalogue_is_up_to_date_with_its_po_file(code: str) -> None:
    path = TRANSLATIONS_DIR / BY_CODE[code].locale / "LC_MESSAGES" / "messages.mo"
    with open(path, "rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}

    assert compiled == {m.id: m.string for m in read_catalogue(code) if m.id}, (
        "run: pybabel compile -d agent/kiosk/translations"
    )


# --- the pages read aloud ------------------------------------------------------------------


def page_of(screen: Screen, lockers: SimulatedBank, page: str, code: str) -> str:
    """The page whose recording is ``page``, in the language ``code``."""
    if page == "home":
        return screen.open(f"/{code}/")
    if page == "charge":
        screen.open(f"/{code}/")
        return screen.tap(f"/{code}/charge")
    number, secret = deposit(screen, lockers, code)
    if page == "code":
        return screen.html
    if page == "take":
        return screen.open(f"/{code}/take")
    if page == "keypad":
        return screen.open(f"/{code}/take/{number}")
    screen.open(f"/{code}/take/{number}")
    return screen.tap(f"/{code}/take/{number}", code=secret)


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("page", list(audio.PAGES))
def test_each_recorded_sentence_is_shown_on_its_page(
    screen: Screen, lockers: SimulatedBank, page: str, code: str
) -> None:
    html = page_of(screen, lockers, page, code)

    missing = [m for m in audio.PAGES[page] if words(code, m) not in html]

    assert missing == []


def test_a_recording_plays_on_its_page_and_only_recordings_are_served(
    tmp_path: Path, bank: Bank, make_screen
) -> None:
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / audio.recording_name("home", "uk")).write_bytes(b"ID3 not much")
    (folder / "notes.txt").write_text("private")
    screen = make_screen(bank, audio_dir=folder)

    ukrainian, french = screen.open("/uk/"), screen.open("/fr/")

    assert (
        '<audio controls preload="none" src="/audio/home.uk.mp3" '
        'aria-labelledby="listen-label"></audio>'
    ) in ukrainian
    assert "<audio" not in french  # not recorded: no player
    served = screen.client.get("/audio/home.uk.mp3")
    assert served.status_code == 200 and served.headers["Content-Type"] == "audio/mpeg"
    for path in ["/audio/notes.txt", "/audio/home.fr.mp3", "/audio/..%2Fweb.py"]:
        assert screen.client.get(path).status_code == 404, path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every recording, made by what ``make kiosk-audio`` runs."""
    if shutil.which("espeak-ng") is None or shutil.which("lame") is None:
        pytest.skip("apt-get install espeak-ng lame (make install-test-services)")
    out = tmp_path_factory.mktemp("audio")
    result = CliRunner().invoke(audio.main, ["--out", str(out)])
    assert result.exit_code == 0, result.output
    yield out


@needs_tools
def test_every_page_is_recorded_in_every_language_as_mp3(recorded: Path) -> None:
    for page in audio.PAGES:
        for code in CODES:
            data = (recorded / audio.recording_name(page, code)).read_bytes()
            assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0), page
            assert 2_000 < len(data) < 250_000, (page, code, len(data))
    assert sorted(p.name for p in recorded.iterdir()) == sorted(
        audio.recording_name(page, code) for page in audio.PAGES for code in CODES
    )


def test_the_recording_command_names_the_missing_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither espeak-ng nor lame

    result = CliRunner().invoke(audio.main, ["--out", str(tmp_path / "audio")])

    assert result.exit_code == 2
    assert "espeak-ng" in result.output and "apt-get install" in result.output
