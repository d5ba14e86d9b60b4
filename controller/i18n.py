"""The staff pages' languages: French first, English; dates in the city's time zone.

Messages are written in English in the code (the msgids) and translated in catalogues that
live beside what they translate: ``controller/web/translations`` for the kernel's pages and
``controller/<domain>/translations`` for each domain's, all merged by Flask-Babel. Both the
``.po`` and the compiled ``.mo`` are committed; ``tests/controller/test_translations.py`` fails
when a message has no French translation or a catalogue was not compiled. After changing a
message: ``make translations``, translate what it added to each ``fr`` catalogue, and run it
again to compile.

A reader's language: the one saved on their account, else their browser's choice between
French and English, else French. Residents never see these pages: the portal has its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request
from flask_babel import Babel, format_datetime, get_locale, gettext, lazy_gettext, ngettext

from controller.config import ControllerSettings

LANGUAGES = {"fr": "Français", "en": "English"}  # the first is the default
DEFAULT_LANGUAGE = next(iter(LANGUAGES))
HERE = Path(__file__).resolve().parent
LANGUAGE_OF_ACCOUNT = "borne.language_of_account"

# For domains: _("…") for a message shown now, _l("…") for one defined at import time (a form's
# label, a module's constant) and translated when shown, in the reader's language.
_ = gettext
_l = lazy_gettext
__all__ = ["LANGUAGES", "_", "_l", "format_datetime", "init_i18n", "language", "ngettext"]


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


def _reader_language() -> str:
    """The account's saved language, else the browser's choice, else French."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
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
