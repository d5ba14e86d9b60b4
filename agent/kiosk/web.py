"""The resident's touch page on a charging kiosk: leave a phone, get a code, take it back.

The kiosk role serves it on 127.0.0.1 and Chromium shows it in kiosk mode. It is thin over
:class:`agent.kiosk.bank.Bank`, which holds every rule and every state; what the page adds is
words in the resident's language, and guards against what a touch screen does that a desk
clerk would not:

- **Forms and links only.** Every step is a plain form or link, so the page works with scripts
  off; ``static/kiosk.js`` only types the keypad's digits without a round trip and says when
  the door is shut.
- **POST, redirect, GET.** A POST does one operation and answers 303; the page after it is a
  GET that changes nothing. A refresh or the back button never repeats an operation.
- **One operation per form.** Every form that acts carries a one-time token
  (:class:`OneTimeForms`): a double tap sends the form twice, and the second waits for the
  first and lands on the same page, so it never opens a second locker nor counts a wrong code
  twice. A token the page did not hand out (a page from before a restart, a form posted from
  elsewhere) does nothing.
- **The code, once.** It leaves the bank in the answer to "Done" and stays in memory only until
  the next GET shows it (:class:`CodesToShow`); a refresh then says it was shown. It is never
  in a URL (Chromium keeps those in its history), a log or a file.
- **The language in the path** (``/ar/take``), never in a cookie: the screen is shared, and the
  next resident starts in the site's language.
- **Only 127.0.0.1.** Requests naming another host are refused (``TRUSTED_HOSTS``), so a web
  page elsewhere cannot reach the page through DNS rebinding.

The words are the templates' (``templates/``), in the portal's nine languages with its
language tools (:mod:`captive_portal.i18n`), from catalogues of their own (``translations/``,
``.po`` and ``.mo`` both committed; ``tests/agent/kiosk/test_web.py`` checks they agree). After
changing a message::

    pybabel extract -F agent/kiosk/babel.cfg --no-location --omit-header --sort-output \
        -o agent/kiosk/translations/messages.pot .
    pybabel update -i agent/kiosk/translations/messages.pot -d agent/kiosk/translations
    # translate the new entries in every messages.po, then:
    pybabel compile -d agent/kiosk/translations
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.units import format_unit
from flask import (
    Flask,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.exceptions import BadRequest, HTTPException, NotFound, SecurityError
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from agent.kiosk import audio
from agent.kiosk.bank import Bank, KioskError, LockerView
from agent.protocol import DoorState, LockerState
from captive_portal import i18n

EXTENSION = "borne_kiosk"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
# Styles are inline, pictograms inline SVG; the only files the page loads are its own script
# and, when the resident taps play, its recording. Nothing from elsewhere, no frame.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
    "img-src data:; media-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1"]
AUDIO_PATH = "/audio/"
AUDIO_CACHE_S = 86400  # recordings change only when the agent is reinstalled
CODE_LENGTH = 6
# The longest pause the bank imposes is an hour or so; a longer wait in an address is not one.
MAX_WAIT_S = 6 * 3600
# States in which a phone is inside: its number is offered on "Take my phone back". A locker
# in overtime is offered too: tapping it says where to ask, which is what its owner needs.
HOLDS_A_PHONE = frozenset({LockerState.OCCUPIED, LockerState.OVERTIME})
# Errors shown on the step itself rather than on a page of their own.
KEYPAD_ERRORS = frozenset({"wrong_code", "bad_code"})
STAFF_ERRORS = frozenset({"bad_pin", "missing", "no_such_locker", "busy", "driver_down"})
# Every error a page can explain: the bank's codes, and the page's own (``stale``: a form from
# an old page; ``shown``: a code page opened a second time; the HTTP ones).
PROBLEMS = frozenset(
    {
        "no_free_locker",
        "door_open",
        "wrong_code",
        "locker_paused",
        "keypad_paused",
        "bad_code",
        "no_such_locker",
        "not_occupied",
        "not_waiting",
        "overtime",
        "driver_down",
        "out_of_service",
        "bad_pin",
        "missing",
        "busy",
        "stale",
        "not_found",
        "bad_request",
        "server_error",
    }
)
_DIGITS = frozenset("0123456789")


# --- the guards against double taps and a code on screen --------------------------------------


@dataclasses.dataclass
class _Operation:
    finished: threading.Event
    location: str | None = None


class OneTimeForms:
    """The tokens of the page's forms: each token runs its operation at most once.

    A double tap makes the browser send a form twice, a few milliseconds apart, on two
    threads of the server; the second must not open a second locker. So the first submission
    of a token runs the operation and records where it led (a URL); any later one waits for it
    and is sent to the same place. Tokens live in memory (a restart forgets them: the resident
    taps again) and only the latest ``capacity`` are kept.
    """

    def __init__(self, capacity: int = 512, wait_s: float = 30.0) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, _Operation | None] = OrderedDict()
        self._capacity = capacity
        self._wait_s = wait_s

    def issue(self) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = None
            while len(self._tokens) > self._capacity:
                self._tokens.popitem(last=False)
        return token

    def run(
        self,
        token: str,
        operation: Callable[[], str],
        unfinished: str,
        repeated: Callable[[str], None] | None = None,
    ) -> str | None:
        """Where ``operation`` led for ``token``, running it only the first time; None for a
        token this page did not hand out. A later submission is told ``repeated(location)``;
        one whose first is still running after ``wait_s``, or failed, goes to ``unfinished``."""
        with self._lock:
            if token not in self._tokens:
                return None
            entry = self._tokens[token]
            first = entry is None
            if entry is None:
                entry = self._tokens[token] = _Operation(threading.Event())
        if not first:
            entry.finished.wait(self._wait_s)
            if entry.location is None:
                return unfinished
            if repeated is not None:
                repeated(entry.location)
            return entry.location
        try:
            entry.location = operation()
        finally:
            entry.finished.set()
        return entry.location


@dataclasses.dataclass
class CodeToShow:
    number: int
    code: str
    printed: bool | None  # None: no receipt printer; False: it failed
    made_at: float
    views: int = 1  # one per submission of "Done" that led here
    first_view_at: float | None = None


class CodesToShow:
    """A fresh code between the POST that made it and the GET that shows it, once.

    Held in memory for ``keep_s`` at most (the GET follows within milliseconds; a browser
    that never asks leaves nothing behind for long). The ticket in the URL is random and
    worthless once used. A double tap on "Done" may make the browser follow both answers
    (the first page is dropped as the second comes): each submission grants one view
    (:meth:`again`), within ``again_s`` of the first, so the resident still sees the code.
    """

    def __init__(
        self,
        keep_s: float = 120.0,
        again_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, CodeToShow] = {}
        self._keep_s = keep_s
        self._again_s = again_s
        self._clock = clock

    def put(self, number: int, code: str, printed: bool | None) -> str:
        ticket = secrets.token_urlsafe(16)
        now = self._clock()
        with self._lock:
            for old in [t for t, c in self._codes.items() if now - c.made_at > self._keep_s]:
                del self._codes[old]
            self._codes[ticket] = CodeToShow(number, code, printed, now)
        return ticket

    def again(self, ticket: str) -> None:
        """Another submission of the same "Done" was sent to this ticket: one more view."""
        with self._lock:
            if (shown := self._codes.get(ticket)) is not None:
                shown.views += 1

    def take(self, ticket: str) -> CodeToShow | None:
        """The code to show, or None: never made, shown already, or too old."""
        now = self._clock()
        with self._lock:
            shown = self._codes.get(ticket)
            if shown is None:
                return None
            first = shown.first_view_at
            if now - shown.made_at > self._keep_s or (
                first is not None and now - first > self._again_s
            ):
                del self._codes[ticket]
                return None
            shown.views -= 1
            shown.first_view_at = first if first is not None else now
            if shown.views <= 0:
                del self._codes[ticket]
            return dataclasses.replace(shown)


# --- the app ------------------------------------------------------------------------------------


# Print the locker's number and its code on a receipt; True if it printed. Never raises: a
# printer out of paper must not keep a resident from their code.
ReceiptPrinter = Callable[[int, str], bool]


@dataclasses.dataclass(frozen=True)
class KioskPage:
    """What the views need, attached to the app (``app.extensions``), never to a module."""

    bank: Bank
    catalogues: i18n.Catalogues
    forms: OneTimeForms
    codes: CodesToShow
    audio_dir: Path
    recordings: Mapping[tuple[str, str], str]  # (page, language) -> file in audio_dir
    print_receipt: ReceiptPrinter | None
    clock: Callable[[], datetime]


def kiosk() -> KioskPage:
    page: KioskPage = current_app.extensions[EXTENSION]
    return page


class LanguageConverter(BaseConverter):
    """``/fa-AF/…``: one of the kiosk's languages, or no route at all (404)."""

    regex = "|".join(language.code for language in i18n.LANGUAGES)

    def to_python(self, value: str) -> i18n.Language:
        return i18n.BY_CODE[value]

    def to_url(self, value: Any) -> str:
        return value.code if isinstance(value, i18n.Language) else str(value)


def create_kiosk_app(
    bank: Bank,
    *,
    audio_dir: Path = audio.DEFAULT_AUDIO_DIR,
    print_receipt: ReceiptPrinter | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Flask:
    """The touch page over ``bank``. ``print_receipt`` is given where a receipt printer is
    attached; ``audio_dir`` holds the recordings ``make kiosk-audio`` made."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config["TRUSTED_HOSTS"] = LOCAL_HOSTS
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024  # the largest form is the staff's, a few lines
    app.url_map.converters["lang"] = LanguageConverter
    now = clock or (lambda: datetime.now(UTC))
    app.extensions[EXTENSION] = KioskPage(
        bank=bank,
        catalogues=i18n.Catalogues.load(TRANSLATIONS_DIR),
        forms=OneTimeForms(),
        codes=CodesToShow(clock=(lambda: now().timestamp()) if clock else time.monotonic),
        audio_dir=audio_dir,
        recordings=audio.find_recordings(audio_dir),
        print_receipt=print_receipt,
        clock=now,
    )
    app.url_value_preprocessor(_take_language)
    app.url_defaults(_keep_language)
    app.after_request(_secure_headers)
    app.register_error_handler(HTTPException, _http_problem)
    app.register_error_handler(Exception, _server_error)

    rules: list[tuple[str, str, Callable[..., Any], list[str]]] = [
        ("/", "start", start, ["GET"]),
        ("/<lang:lang>/", "home", home, ["GET"]),
        ("/<lang:lang>/charge", "charge", charge, ["POST"]),
        ("/<lang:lang>/charge/<int:number>", "deposit", deposit, ["GET"]),
        ("/<lang:lang>/charge/<int:number>/door", "door", door, ["GET"]),
        ("/<lang:lang>/charge/<int:number>/done", "deposit_done", deposit_done, ["POST"]),
        ("/<lang:lang>/charge/<int:number>/cancel", "cancel", cancel, ["POST"]),
        ("/<lang:lang>/code/<ticket>", "code", show_code, ["GET"]),
        ("/<lang:lang>/take", "take", take, ["GET"]),
        ("/<lang:lang>/take/<int:number>", "keypad", keypad, ["GET"]),
        ("/<lang:lang>/take/<int:number>", "retrieve", retrieve, ["POST"]),
        ("/<lang:lang>/take/<int:number>/keys", "keys", keys, ["POST"]),
        ("/<lang:lang>/opened/<int:number>", "opened", opened, ["GET"]),
        ("/<lang:lang>/problem/<problem>", "problem", problem, ["GET"]),
        ("/<lang:lang>/staff", "staff", staff, ["GET"]),
        ("/<lang:lang>/staff", "staff_open", staff_open, ["POST"]),
        ("/<lang:lang>/staff/opened/<int:number>", "staff_opened", staff_opened, ["GET"]),
        ("/staff", "staff_start", staff_start, ["GET"]),
        (f"{AUDIO_PATH}<name>", "recording", recording, ["GET"]),
    ]
    for path, endpoint, view, methods in rules:
        app.add_url_rule(path, endpoint, view, methods=methods)
    return app


# --- every request ------------------------------------------------------------------------------


def _take_language(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values and "lang" in values:
        g.language = values.pop("lang")


def _keep_language(endpoint: str, values: dict[str, Any]) -> None:
    """Links stay in the page's language unless they name another."""
    if "lang" not in values and current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        values["lang"] = _language()


def _language() -> i18n.Language:
    language: i18n.Language | None = g.get("language")
    return language if language is not None else _site_language()


def _site_language() -> i18n.Language:
    """The site's language (``site_language``), where a resident starts."""
    try:
        code = kiosk().bank.status().language
    except Exception:  # a broken bank still gets an error page in some language
        code = "fr"
    wanted = code.replace("_", "-").lower()
    wanted = i18n.ALIASES.get(wanted, wanted).lower()
    primary = wanted.split("-")[0]
    exact = [lang for lang in i18n.LANGUAGES if lang.code.lower() == wanted]
    close = [lang for lang in i18n.LANGUAGES if lang.code.split("-")[0].lower() == primary]
    return (exact or close or [i18n.BY_CODE["fr"]])[0]


def _secure_headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")  # a code never lingers in a cache
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if g.get("language") is not None:
        response.headers["Content-Language"] = g.language.code
    return response


# --- the resident's steps -----------------------------------------------------------------------


def start() -> Response:
    """The screen's start: the home page in the site's language."""
    return redirect(url_for("home", lang=_site_language()), code=303)


def home() -> str:
    free = sum(1 for locker in kiosk().bank.lockers() if locker.free)
    return _page("home.html", free=free, token=kiosk().forms.issue(), listen=_listen("home"))


def charge() -> Response:
    """Tap on "Charge my phone": the bank opens a free locker."""

    def choose() -> str:
        try:
            number = kiosk().bank.choose()
        except KioskError as error:
            return _problem_location(error)
        return url_for("deposit", number=number)

    return _once(choose)


def deposit(number: int) -> Response | str:
    """The open locker's step ("Locker 3 is open") until the resident taps Done or Cancel; only
    while it waits for a phone: back here later (the back button) is the start page."""
    locker = _locker(number)
    if locker is None or locker.state != LockerState.DEPOSIT:
        return redirect(url_for("home"), code=303)
    error = request.args.get("error")
    return _page(
        "charge.html",
        number=number,
        door_open=locker.door != DoorState.CLOSED,
        error=error if error == "door_open" else None,
        token=kiosk().forms.issue(),
        cancel_token=kiosk().forms.issue(),
        listen=_listen("charge"),
        script=True,
    )


def door(number: int) -> Response:
    """The door of a locker waiting for a phone, for the page's script: is it shut yet?"""
    locker = _locker(number)
    if locker is None:
        raise NotFound()
    waiting = locker.state == LockerState.DEPOSIT
    return jsonify(door=locker.door.value, waiting=waiting)


def deposit_done(number: int) -> Response:
    """Tap on Done: the bank checks the door is shut and gives the code; it is printed where a
    printer is attached, then shown once."""

    def done() -> str:
        page = kiosk()
        try:
            code = page.bank.deposit_done(number)
        except KioskError as error:
            if error.code == "door_open":
                return url_for("deposit", number=number, error=error.code)
            return _problem_location(error, number)
        printed = page.print_receipt(number, code) if page.print_receipt else None
        return url_for("code", ticket=page.codes.put(number, code, printed))

    def tapped_twice(location: str) -> None:  # the browser may follow both answers
        kiosk().codes.again(location.rsplit("/", 1)[-1])

    return _once(done, tapped_twice)


def cancel(number: int) -> Response:
    """Tap on Cancel: the resident closed the door on an empty locker."""

    def cancel_deposit() -> str:
        try:
            kiosk().bank.cancel_deposit(number)
        except KioskError as error:
            if error.code == "door_open":
                return url_for("deposit", number=number, error=error.code)
            return _problem_location(error, number)
        return url_for("start")

    return _once(cancel_deposit)


def show_code(ticket: str) -> tuple[str, int] | str:
    shown = kiosk().codes.take(ticket)
    if shown is None:  # a refresh, the back button: it was shown, and only then
        return _page("shown.html", status=kiosk().bank.status()), 410
    code = f"{shown.code[:3]} {shown.code[3:]}" if len(shown.code) == CODE_LENGTH else shown.code
    return _page(
        "code.html",
        number=shown.number,
        code=code,
        printed=shown.printed,
        listen=_listen("code"),
        switch=False,
        script=True,  # asks after a minute untouched, then hides the code
    )


def take() -> Response | str:
    """The numbers of the lockers that hold a phone, to tap one ("Take my phone back")."""
    if (paused := _keypad_paused()) is not None:
        return paused
    numbers = [locker.number for locker in kiosk().bank.lockers() if locker.state in HOLDS_A_PHONE]
    return _page("take.html", numbers=numbers, listen=_listen("take"))


def keypad(number: int) -> Response | str:
    """The keypad of locker ``number``; after a wrong code, what went wrong."""
    error = request.args.get("error")
    left = request.args.get("left", "")
    return _keypad_page(
        number,
        error=error if error in KEYPAD_ERRORS else None,
        left=int(left) if left.isdigit() else None,
    )


def keys(number: int) -> Response | str:
    """A digit of the on-screen keypad, without a script: the keypad again with one digit
    more (or less). Nothing is checked: the code goes to the bank only on Open."""
    typed = "".join(c for c in request.form.get("typed", "") if c in _DIGITS)[:CODE_LENGTH]
    key = request.form.get("key", "")
    if key in _DIGITS and len(key) == 1:
        typed = (typed + key)[:CODE_LENGTH]
    elif key == "erase":
        typed = typed[:-1]
    else:
        raise BadRequest("key must be a digit or erase")
    return _keypad_page(number, typed=typed)


def retrieve(number: int) -> Response:
    """Tap on Open: the bank checks the code; right, the door opens."""
    # Spaces are how the code is shown ("482 913"), not part of it; the bank judges the rest.
    code = "".join(request.form.get("code", "").split())[:32]

    def open_locker() -> str:
        try:
            kiosk().bank.retrieve(number, code)
        except KioskError as error:
            if error.code in KEYPAD_ERRORS:
                left = error.attempts_left
                return url_for("keypad", number=number, error=error.code, left=left)
            return _problem_location(error, number)
        return url_for("opened", number=number)

    return _once(open_locker)


def opened(number: int) -> str:
    return _page("opened.html", number=number, listen=_listen("opened"))


def problem(problem: str) -> tuple[str, int]:
    """An error in words, with what to do and where to ask; a pause says how long."""
    if problem not in PROBLEMS:
        raise NotFound()
    until = request.args.get("until", "")
    wait_s = None
    if until.isdigit() and len(until) <= 12:
        wait_s = max(0, int(until) - int(kiosk().clock().timestamp()))
        if wait_s > MAX_WAIT_S:  # not a pause of the bank's: an address typed by hand
            wait_s = None
    locker = request.args.get("locker", "")
    return _problem_page(problem, wait_s=wait_s, number=int(locker) if locker.isdigit() else None)


# --- staff ------------------------------------------------------------------------------------


def staff_start() -> Response:
    return redirect(url_for("staff", lang=_site_language()), code=303)


def staff() -> str:
    """Staff open any locker with their own PIN and a reason; the bank checks and records."""
    error = request.args.get("error")
    chosen = request.args.get("locker", "")
    return _page(
        "staff.html",
        lockers=kiosk().bank.lockers(),
        chosen=int(chosen) if chosen.isdigit() else None,
        error=error if error in STAFF_ERRORS else None,
        token=kiosk().forms.issue(),
    )


def staff_open() -> Response:
    form = request.form
    username, pin, reason = (form.get(name, "").strip() for name in ("username", "pin", "reason"))
    locker = form.get("locker", "")
    if not (username and pin and reason and locker.isdigit()):
        return redirect(url_for("staff", error="missing", locker=locker or None), code=303)
    number = int(locker)

    def open_for_staff() -> str:
        try:
            kiosk().bank.staff_open(username, pin, number, reason[:200])
        except KioskError as error:
            if error.code in STAFF_ERRORS:
                return url_for("staff", error=error.code, locker=number)
            return _problem_location(error, number)
        return url_for("staff_opened", number=number)

    return _once(open_for_staff)


def staff_opened(number: int) -> str:
    return _page("staff_opened.html", number=number)


def recording(name: str) -> Response:
    """A page read aloud (:mod:`agent.kiosk.audio`): only the files found at start."""
    page = kiosk()
    if name not in page.recordings.values():
        raise NotFound()
    return send_from_directory(
        page.audio_dir, name, mimetype=audio.MEDIA_TYPE, max_age=AUDIO_CACHE_S
    )


# --- helpers --------------------------------------------------------------------------------------


def _once(operation: Callable[[], str], repeated: Callable[[str], None] | None = None) -> Response:
    """Run a form's operation once for its token and redirect where it led (303)."""
    token = request.form.get("token", "")
    busy = url_for("problem", problem="busy")
    location = kiosk().forms.run(token, operation, busy, repeated) if token else None
    if location is None:
        location = url_for("problem", problem="stale")
    return redirect(location, code=303)


def _problem_location(error: KioskError, number: int | None = None) -> str:
    code = error.code if error.code in PROBLEMS else "server_error"
    until = None
    if error.retry_after_s is not None:
        until = int(kiosk().clock().timestamp()) + error.retry_after_s
    return url_for("problem", problem=code, locker=number, until=until)


def _keypad_paused() -> Response | None:
    """The whole keypad paused after wrong codes on many lockers: the page that says so."""
    until = kiosk().bank.status().keypad_paused_until
    if until is None or until <= kiosk().clock():
        return None
    return redirect(url_for("problem", problem="keypad_paused", until=int(until.timestamp())))


def _locker(number: int) -> LockerView | None:
    return next((x for x in kiosk().bank.lockers() if x.number == number), None)


def _keypad_page(
    number: int, *, typed: str = "", error: str | None = None, left: int | None = None
) -> Response | str:
    if (paused := _keypad_paused()) is not None:
        return paused
    locker = _locker(number)
    if locker is None or locker.state not in HOLDS_A_PHONE:
        return redirect(url_for("take"), code=303)
    return _page(
        "keypad.html",
        number=number,
        typed=typed,
        error=error,
        left=left,
        token=kiosk().forms.issue(),
        listen=_listen("keypad"),
        script=True,
    )


def _listen(page: str) -> str | None:
    """The URL of ``page``'s recording in the request's language, if it was recorded."""
    name = kiosk().recordings.get((page, _language().code))
    return f"{AUDIO_PATH}{name}" if name else None


def _problem_page(
    problem: str, *, wait_s: int | None = None, number: int | None = None, status: int = 200
) -> tuple[str, int]:
    try:
        bank_status = kiosk().bank.status()
    except Exception:  # the page that says something went wrong must not fail itself
        bank_status = None
    wait = _wait_words(wait_s, _language().code) if wait_s else None
    page = _page(
        "problem.html",
        problem=problem,
        wait=wait,
        over=wait_s == 0,
        number=number,
        status=bank_status,
    )
    return page, status


def _wait_words(seconds: int, code: str) -> str:
    """``4 minutes``: a pause's rest in whole minutes, rounded up (a resident told "1 minute"
    who comes back after one finds the keypad open), in seconds under a minute; never in hours
    ("1 hour" for 64 minutes would send them back too early)."""
    locale = Locale.parse(code, sep="-")
    if seconds < 60:
        return format_unit(seconds, "duration-second", length="long", locale=locale)
    return format_unit(math.ceil(seconds / 60), "duration-minute", length="long", locale=locale)


def _page(template: str, *, switch: bool = True, **context: Any) -> str:
    language = _language()
    g.language = language
    if "status" not in context:
        context["status"] = kiosk().bank.status()
    return render_template(
        template,
        _=kiosk().catalogues.gettext_for(language.code),
        language=language,
        switch=_switch_links() if switch else None,
        **context,
    )


def _switch_links() -> list[tuple[i18n.Language, str]]:
    """The language switch: this page in each language (a form's answer: its step's page)."""
    endpoint = request.endpoint or "home"
    values: dict[str, Any] = dict(request.view_args or {})
    if request.method == "GET" and current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        values.update(request.args.to_dict())
    else:
        endpoint = {"keys": "keypad", "retrieve": "keypad", "staff_open": "staff"}.get(
            endpoint, "home"
        )
        values = {"number": values["number"]} if endpoint == "keypad" else {}
    return [(other, url_for(endpoint, lang=other, **values)) for other in i18n.LANGUAGES]


def _http_problem(error: HTTPException) -> Response | tuple[str, int]:
    if error.code is None or error.code < 400:
        return error.get_response()
    if isinstance(error, SecurityError):  # another Host: no page of ours, not even an error's
        return Response("not this host\n", status=400, content_type="text/plain")
    problem = "not_found" if error.code in (404, 405) else "bad_request"
    if error.code >= 500:
        problem = "server_error"
    return _problem_page(problem, status=error.code)


def _server_error(error: Exception) -> tuple[str, int]:
    current_app.logger.exception("unexpected error on the kiosk page", exc_info=error)
    return _problem_page("server_error", status=500)
