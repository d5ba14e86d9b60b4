"""The resident's language: which one a request gets, its catalogue, and its dates and durations.

Catalogues are Babel ``.po`` files compiled to ``.mo`` under ``translations/<lang>/LC_MESSAGES``
(both committed; ``tests/captive_portal/test_i18n.py`` checks they agree). Templates call ``_()``,
passed in per request, so two requests in two languages never share a translation object.
After changing a message in a template::

    pybabel extract -F captive_portal/babel.cfg --no-location --omit-header \
        -o captive_portal/translations/messages.pot .
    pybabel update -i captive_portal/translations/messages.pot -d captive_portal/translations
    # translate the new entries in every messages.po, then:
    pybabel compile -d captive_portal/translations

Order of choice: ``?lang=xx`` (a link of the visible switch, then kept in a cookie), the cookie,
the browser's ``Accept-Language``, then the hotspot's ``default_language``.

Dari is ``fa-AF``: Persian as written in Afghanistan. Its own code, ``prs`` (ISO 639-3), is
unknown to Babel's CLDR data, which has ``fa_AF`` (Afghan month names, Dari's words); browsers
send ``fa-AF`` or ``fa``, and ``prs`` is understood as an alias. A Persian reader from Iran who
asks for ``fa`` gets Dari: the two are mutually intelligible.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time, format_timedelta
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGE_COOKIE = "lang"
SOURCE_LANGUAGE = "en"  # msgids are English; en.po maps them to themselves


@dataclasses.dataclass(frozen=True)
class Language:
    code: str  # BCP 47 tag: the page's lang attribute, ?lang=, the cookie
    name: str  # in the language itself: a resident looks for their own word
    rtl: bool = False

    @property
    def direction(self) -> str:
        return "rtl" if self.rtl else "ltr"

    @property
    def locale(self) -> str:
        """The catalogue's folder and Babel's locale: ``fa_AF`` for ``fa-AF``."""
        return self.code.replace("-", "_")


# In the order of the switch: the city's language first, then by how many residents read it.
LANGUAGES: tuple[Language, ...] = (
    Language("fr", "Français"),
    Language("en", "English"),
    Language("ar", "العربية", rtl=True),
    Language("es", "Español"),
    Language("tr", "Türkçe"),
    Language("pt", "Português"),
    Language("ro", "Română"),
    Language("uk", "Українська"),
    Language("fa-AF", "دری", rtl=True),  # Dari
)
BY_CODE: Mapping[str, Language] = {language.code: language for language in LANGUAGES}
# Other tags a browser or a link may use for one of ours (lower case).
ALIASES: Mapping[str, str] = {"prs": "fa-AF"}
_BY_LOWER: Mapping[str, Language] = {
    **{language.code.lower(): language for language in LANGUAGES},
    **{alias: BY_CODE[code] for alias, code in ALIASES.items()},
}


class UnknownLanguage(ValueError):
    """``?lang=`` names a language the portal has no catalogue for."""


@dataclasses.dataclass(frozen=True)
class Catalogues:
    """Every language's compiled catalogue, loaded once when the app is built."""

    translations: Mapping[str, NullTranslations]

    @classmethod
    def load(cls, directory: Path = TRANSLATIONS_DIR) -> Catalogues:
        loaded: dict[str, NullTranslations] = {}
        for language in LANGUAGES:
            catalogue = Translations.load(str(directory), [language.locale])
            if not isinstance(catalogue, Translations):  # Babel returns a null one when missing
                raise FileNotFoundError(
                    f"no compiled catalogue for {language.code!r} in {directory}; "
                    "run: pybabel compile -d captive_portal/translations"
                )
            loaded[language.code] = catalogue
        return cls(loaded)

    def gettext_for(self, code: str) -> Callable[..., str]:
        """``_("text", name=value)``: the translation, with ``%(name)s`` filled in."""
        catalogue = self.translations[code]

        def gettext(message: str, **values: object) -> str:
            text = catalogue.gettext(message)
            return text % values if values else text

        return gettext


def choose_language(
    query: str | None,
    cookie: str | None,
    accepted: Callable[[list[str]], str | None],
    default: str,
) -> Language:
    """The language of a request; raises :class:`UnknownLanguage` for a bad ``?lang=``.

    ``accepted`` is the browser's choice among our codes (werkzeug's ``best_match``). A bad
    cookie is ignored rather than refused: the resident never typed it and cannot see it.
    """
    if query is not None:
        language = _BY_LOWER.get(query.strip().lower())
        if language is None:
            raise UnknownLanguage(query)
        return language
    if cookie is not None and cookie in BY_CODE:
        return BY_CODE[cookie]
    best = accepted([*(language.code for language in LANGUAGES), *ALIASES])
    if best is not None and best.lower() in _BY_LOWER:
        return _BY_LOWER[best.lower()]
    return BY_CODE.get(default, BY_CODE["fr"])


def format_duration(seconds: int, code: str) -> str:
    """``4 hours``, ``45 minutes`` in the resident's language."""
    return format_timedelta(
        timedelta(seconds=seconds), threshold=1.5, format="long", locale=_babel_locale(code)
    )


def format_day(moment: datetime, code: str) -> str:
    """``Friday, 27 November 2026`` in the resident's language, weekday spelt out in full.

    (Babel's skeletons abbreviate the weekday in some locales, "vie" in Spanish.)
    """
    return format_date(moment, format="full", locale=_babel_locale(code))


def format_clock(moment: datetime, code: str) -> str:
    """``10:00`` (or ``10:00 AM`` where that is the custom)."""
    return format_time(moment, format="short", locale=_babel_locale(code))


def _babel_locale(code: str) -> Locale:
    return Locale.parse(code, sep="-")
