"""The staff pages' languages: French first, English; dates in the city's time zone.

Messages are written in English in the code (the msgids) and translated in catalogues that
live beside what they translate: ``controller/web/translations`` for the kernel's pages and
``controller/<domain>/translations`` for each domain's, all merged by Flask-Babel. Both the
``.po`` and the compiled ``.mo`` are committed; ``tests/controller/test_translations.py`` fails
when a message has no French translation or a catalogue was not compiled. After changing a
message: ``make translations``, translate what it added to each ``fr`` catalogue, and run it
again to compile.

A reader's language: the one saved on their account, else their browser's choice between
French and English, else French. Residents never see these pages: the portal has its own. The
command line (``borne controller …``) reads the same catalogues in its terminal's language.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel import Babel, LazyString, format_datetime, get_locale, refresh
from flask_babel import gettext as _page_gettext
from flask_babel import ngettext as _page_ngettext

from controller.config import ControllerSettings

LANGUAGES = {"fr": "Français", "en": "English"}  # the first is the default
DEFAULT_LANGUAGE = next(iter(LANGUAGES))
HERE = Path(__file__).resolve().parent
LANGUAGE_OF_ACCOUNT = "borne.language_of_account"
PAGE_LANGUAGE = "borne_page_language"  # on ``g``: a residents' page chose its own language

# Where the command line finds its reader's language, in GNU gettext's order of precedence.
TERMINAL_LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

__all__ = [
    "LANGUAGES",
    "_",
    "_l",
    "format_datetime",
    "init_i18n",
    "language",
    "ngettext",
    "use_page_language",
]


# For domains: _("…") for a message shown now, _l("…") for one defined at import time (a form's
# label, a module's constant) and translated when shown, in the reader's language. A page's reader
# is the person signed in; outside the app (``borne controller …`` in a shell) it is whoever runs
# the command, in their terminal's language.
def _(string: str, **variables: Any) -> str:
    if has_app_context():
        return str(_page_gettext(string, **variables))
    text = _terminal_translations().gettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    if has_app_context():
        return str(_page_ngettext(singular, plural, num, **variables))
    variables.setdefault("num", num)
    return _terminal_translations().ngettext(singular, plural, num) % variables


def _l(string: str, **variables: Any) -> LazyString:
    return LazyString(_, string, **variables)


def terminal_language(environ: dict[str, str] | None = None) -> str:
    """The command line's language: the first of LANGUAGE (a colon-separated list), LC_ALL,
    LC_MESSAGES and LANG that names one of ours ("fr_FR.UTF-8" is French), else French."""
    environ = dict(os.environ) if environ is None else environ
    for variable in TERMINAL_LANGUAGE_VARIABLES:
        for value in environ.get(variable, "").split(":"):
            code = value.split(".")[0].split("_")[0].split("@")[0].lower()
            if code in LANGUAGES:
                return code
    return DEFAULT_LANGUAGE


def _terminal_translations() -> NullTranslations:
    return _translations_for(terminal_language())


@cache
def _translations_for(code: str) -> NullTranslations:
    """Every catalogue (the kernel's and the domains') merged, as Flask-Babel merges them."""
    merged: NullTranslations = NullTranslations()
    for directory in sorted(HERE.glob("*/translations")):
        loaded = Translations.load(str(directory), [code])
        if isinstance(loaded, Translations):
            if isinstance(merged, Translations):
                merged.merge(loaded)
            else:
                merged = loaded
    return merged


def catalogue_directories(packages: list[str]) -> list[Path]:
    """The kernel's catalogue and each domain's that has one."""
    directories = [HERE / "web" / "translations"]
    for package in packages:
        directory = HERE / package.rsplit(".", 1)[-1] / "translations"
        if directory.is_dir():
            directories.append(directory)
    return directories


def init_i18n(app: Flask, settings: ControllerSettings, packages: list[str]) -> None:
    """Set up Flask-Babel on ``app``: catalogues of the kernel and of ``packages`` (the
    domains), the reader's language, and the city's time zone for every date shown."""
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config["BABEL_DEFAULT_TIMEZONE"] = settings.timezone
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        str(directory) for directory in catalogue_directories(packages)
    )
    Babel(app, locale_selector=_reader_language)
    app.context_processor(_language_context)


def use_page_language(locale: str) -> None:
    """Speak ``locale`` ("ar", "fa_AF") for the rest of this request, whatever the reader's
    account or browser says: residents' pages (the public places) choose among the portal's
    languages themselves, and bring their own catalogues for the ones staff pages lack."""
    setattr(g, PAGE_LANGUAGE, locale)
    refresh()  # anything translated before now was in the other language


def _reader_language() -> str:
    """The page's own choice (:func:`use_page_language`), else the account's saved language,
    else the browser's choice, else French."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = g.get(PAGE_LANGUAGE)
    if chosen:
        return str(chosen)
    from flask import current_app

    of_account = current_app.extensions.get(LANGUAGE_OF_ACCOUNT)
    saved = of_account() if of_account is not None else None
    if saved in LANGUAGES:
        return str(saved)
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE


def language() -> str:
    """The language of the page being made ("fr" or "en")."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def _language_context() -> dict[str, Any]:
    return {"page_language": language(), "languages": LANGUAGES}
