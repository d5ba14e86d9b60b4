"""Catalogues complete and compiled, and each resident gets their language (and direction)."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from captive_portal.i18n import BY_CODE, LANGUAGES, TRANSLATIONS_DIR
from tests.captive_portal.portal_app import make_portal

PORTAL_DIR = TRANSLATIONS_DIR.parent
CODES = [language.code for language in LANGUAGES]
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def template_messages() -> set[str]:
    """Every message the templates show, extracted as ``pybabel extract`` would."""
    found = extract_from_dir(
        str(PORTAL_DIR),
        method_map=[("templates/**.html", "jinja2")],
    )
    return {message for _file, _line, message, _comments, _context in found}


def catalogue_file(code: str, suffix: str):
    return TRANSLATIONS_DIR / BY_CODE[code].locale / "LC_MESSAGES" / f"messages{suffix}"


def read_catalogue(code: str):
    with open(catalogue_file(code, ".po"), "rb") as fh:
        return read_po(fh, locale=BY_CODE[code].locale)


def test_the_languages_of_the_design_and_of_issue_11_are_there():
    assert set(CODES) >= {"fr", "en", "ar", "es", "tr", "pt", "ro", "uk", "fa-AF"}


@pytest.mark.parametrize("code", CODES)
def test_every_catalogue_says_its_own_language(code):
    assert read_catalogue(code).locale_identifier == BY_CODE[code].locale


@pytest.mark.parametrize("code", CODES)
def test_every_message_is_translated(code):
    catalogue = read_catalogue(code)
    translated = {m.id: m.string for m in catalogue if m.id}

    missing = sorted(m for m in template_messages() if not translated.get(m))

    assert missing == []
    assert not any(m.fuzzy for m in catalogue if m.id)


@pytest.mark.parametrize("code", CODES)
def test_translations_keep_the_placeholders(code):
    for message in read_catalogue(code):
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.string)) == sorted(
                PLACEHOLDER.findall(message.id)
            ), message.id


@pytest.mark.parametrize("code", CODES)
def test_compiled_catalogue_is_up_to_date_with_its_po_file(code):
    with open(catalogue_file(code, ".mo"), "rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    source = {m.id: m.string for m in read_catalogue(code) if m.id}

    assert compiled == source, "run: pybabel compile -d captive_portal/translations"


@pytest.mark.parametrize(
    ("accept", "lang", "button"),
    [
        ("ar,fr;q=0.5", "ar", "اتصال"),
        ("tr-TR,tr;q=0.9", "tr", "Bağlan"),
        ("pt-BR", "pt", "Conectar"),
        ("es-419,es;q=0.9", "es", "Conectarse"),
        ("en-GB,en;q=0.8", "en", "Connect"),
        ("ro-RO,ro;q=0.9", "ro", "Conectare"),
        ("uk-UA,uk;q=0.9,ru;q=0.5", "uk", "Підключитися"),
        ("fa-AF", "fa-AF", "وصل شوید"),
        ("prs", "fa-AF", "وصل شوید"),  # Dari's own ISO 639-3 code
        ("fa-IR,fa;q=0.9", "fa-AF", "وصل شوید"),  # a Persian reader: Dari is the closest
        ("de-DE,de;q=0.9", "fr", "Se connecter"),  # not offered: the hotspot's default
        ("", "fr", "Se connecter"),
    ],
)
def test_the_language_comes_from_the_browser(tmp_path, accept, lang, button):
    portal = make_portal(tmp_path)

    html = portal.client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True)

    assert f'<html lang="{lang}"' in html
    assert f"{button}</button>" in html


@pytest.mark.parametrize("code", ["ar", "fa-AF"])
def test_arabic_and_dari_are_written_right_to_left(tmp_path, code):
    portal = make_portal(tmp_path)

    html = portal.client.get(f"/?lang={code}").get_data(as_text=True)

    assert f'<html lang="{code}" dir="rtl">' in html


@pytest.mark.parametrize("asked", ["fa-AF", "fa-af", "prs"])
def test_dari_is_found_by_its_tag_in_any_case_or_by_its_own_code(tmp_path, asked):
    portal = make_portal(tmp_path)

    html = portal.client.get(f"/?lang={asked}").get_data(as_text=True)

    assert '<html lang="fa-AF" dir="rtl">' in html


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ro", "Se redeschide vineri, 27 noiembrie 2026, la ora 10:00."),
        ("uk", "Він знову запрацює: пʼятниця, 27 листопада 2026"),
        # Afghan month names ("نومبر", not Iran's "نوامبر"): Babel's fa_AF.
        ("fa-AF", "روز جمعه 27 نومبر 2026 ساعت 10:00 دوباره باز می‌شود."),
    ],
)
def test_the_new_languages_write_the_next_opening_their_way(tmp_path, lang, expected):
    portal = make_portal(tmp_path, opening_hours="Fr 10:00-12:00")  # now: Tuesday 10:00

    html = portal.client.get(f"/?lang={lang}").get_data(as_text=True)

    assert expected in html


@pytest.mark.parametrize(
    ("lang", "duration"),
    [("ro", "timp de 4 ore"), ("uk", "в інтернеті 4 години"), ("fa-AF", "برای 4 ساعت")],
)
def test_the_session_length_is_in_words_of_the_new_languages(tmp_path, lang, duration):
    portal = make_portal(tmp_path)

    html = portal.client.get(f"/?lang={lang}").get_data(as_text=True)

    assert duration in html


def test_the_language_switch_is_on_every_page_with_each_name_in_its_language(tmp_path):
    portal = make_portal(tmp_path, mode="closed")

    html = portal.client.get("/?lang=tr").get_data(as_text=True)

    for code, name in [
        ("fr", "Français"),
        ("ar", "العربية"),
        ("pt", "Português"),
        ("ro", "Română"),
        ("uk", "Українська"),
        ("fa-AF", "دری"),
    ]:
        assert f'href="/?lang={code}" lang="{code}"' in html
        assert f">{name}</a>" in html
    assert 'lang="tr" hreflang="tr" dir="ltr" aria-current="true"' in html


def test_a_chosen_language_is_remembered_in_a_cookie(tmp_path):
    portal = make_portal(tmp_path)

    chosen = portal.client.get("/?lang=pt", headers={"Accept-Language": "fr"})
    later = portal.client.get("/online", headers={"Accept-Language": "fr"}, follow_redirects=True)

    assert "lang=pt" in chosen.headers["Set-Cookie"]
    assert '<html lang="pt"' in later.get_data(as_text=True)


def test_an_unknown_language_is_a_400_page_in_the_browsers_language(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.get("/?lang=xx", headers={"Accept-Language": "es"})

    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "No hemos entendido esta solicitud" in html
    assert "Set-Cookie" not in answer.headers


def test_a_forged_language_cookie_is_ignored(tmp_path):
    portal = make_portal(tmp_path)
    portal.client.set_cookie("lang", "<script>", domain="10.42.0.1")

    answer = portal.client.get("/", headers={"Accept-Language": "en"})

    assert answer.status_code == 200
    assert '<html lang="en"' in answer.get_data(as_text=True)
