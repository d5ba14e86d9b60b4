"""The pages read aloud: recorded with espeak-ng and lame by ``borne portal audio``, played by
a plain ``<audio>`` player on the splash and closed pages, in the page's language."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner
from markupsafe import escape

from captive_portal.audio import PAGES, VOICES, audio, page_script, recording_name
from captive_portal.i18n import LANGUAGES, Catalogues
from tests.captive_portal.portal_app import make_portal

CODES = [language.code for language in LANGUAGES]
CATALOGUES = Catalogues.load()
needs_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("lame") is None,
    reason="apt-get install espeak-ng lame (make install-test-services)",
)
# A page of each recording: the mode whose page it reads.
MODE_OF_PAGE = {"splash": "click", "code": "code", "closed": "closed"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Every recording, made by the command ``make portal-audio`` runs."""
    if shutil.which("espeak-ng") is None or shutil.which("lame") is None:
        pytest.skip("apt-get install espeak-ng lame (make install-test-services)")
    out = tmp_path_factory.mktemp("audio")
    result = CliRunner().invoke(audio, ["--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def page_of(tmp_path, page, lang, **overrides):
    mode = MODE_OF_PAGE[page]
    extra = {"code_secret": "a secret"} if mode == "code" else {}
    portal = make_portal(tmp_path, mode=mode, **extra, **overrides)
    return portal.client.get(f"/?lang={lang}").get_data(as_text=True)


# --- what is recorded ----------------------------------------------------------------------


@needs_tools
def test_every_page_is_recorded_in_every_language_as_mp3(recorded):
    for page in PAGES:
        for code in CODES:
            data = (recorded / recording_name(page, code)).read_bytes()
            # An MPEG audio frame (sync word 0xFFE) or an ID3 tag before one.
            assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0), page
            assert 5_000 < len(data) < 250_000, (page, code, len(data))
    assert sorted(p.name for p in recorded.iterdir()) == sorted(
        recording_name(page, code) for page in PAGES for code in CODES
    )  # and nothing else (no leftover WAV)


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_recorded_sentence_is_shown_on_its_page(tmp_path, page, code):
    html = page_of(tmp_path, page, code)
    gettext = CATALOGUES.gettext_for(code)

    missing = [m for m in PAGES[page] if str(escape(gettext(m))) not in html]

    assert missing == []


def test_the_recording_of_a_headline_pauses_after_it():
    script = page_script("closed", CATALOGUES.gettext_for("uk")).splitlines()

    assert script == [
        "Wi-Fi зараз не працює.",
        "Є проблема? Зверніться до працівників на рецепції.",
    ]


def test_an_arabic_question_mark_ends_a_sentence_too():
    script = page_script("closed", CATALOGUES.gettext_for("fa-AF"))

    assert "بپرسید." in script and "؟." not in script


@needs_tools
def test_every_language_has_a_voice_of_espeak_ng():
    listed = subprocess.run(
        ["espeak-ng", "--voices"], check=True, capture_output=True, text=True
    ).stdout
    names = {line.split()[1] for line in listed.splitlines()[1:]}

    assert set(VOICES) == set(CODES)
    assert set(VOICES.values()) <= names


def test_the_command_names_the_missing_tool(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither espeak-ng nor lame

    result = CliRunner().invoke(audio, ["--out", str(tmp_path / "audio")])

    assert result.exit_code == 2
    assert "espeak-ng" in result.output and "apt-get install" in result.output


# --- the player on the pages ---------------------------------------------------------------


@needs_tools
@pytest.mark.parametrize(("page", "code"), [("splash", "fa-AF"), ("code", "ro"), ("closed", "uk")])
def test_the_page_plays_its_own_recording_in_its_language(tmp_path, recorded, page, code):
    html = page_of(tmp_path, page, code, audio_dir=str(recorded))

    listen = escape(CATALOGUES.gettext_for(code)("Listen"))
    assert '<p class="lang-label" id="listen-label">' in html and f"{listen}</p>" in html
    assert (
        f'<audio controls preload="none" src="/audio/{recording_name(page, code)}" '
        'aria-labelledby="listen-label"></audio>'
    ) in html


@needs_tools
def test_a_recording_is_served_as_mp3_and_in_ranges(tmp_path, recorded):
    portal = make_portal(tmp_path, audio_dir=str(recorded))
    name = recording_name("splash", "fr")

    whole = portal.client.get(f"/audio/{name}")
    part = portal.client.get(f"/audio/{name}", headers={"Range": "bytes=0-99"})

    assert whole.status_code == 200
    assert whole.headers["Content-Type"] == "audio/mpeg"
    assert whole.data == (recorded / name).read_bytes()
    assert "max-age" in whole.headers["Cache-Control"]
    assert part.status_code == 206 and len(part.data) == 100  # how browsers fetch media


def test_only_the_recordings_are_served_from_the_audio_folder(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / recording_name("closed", "fr")).write_bytes(b"ID3 not much")
    (folder / "notes.txt").write_text("private")
    portal = make_portal(tmp_path, audio_dir=str(folder))

    assert portal.client.get(f"/audio/{recording_name('closed', 'fr')}").status_code == 200
    for path in ["/audio/notes.txt", "/audio/splash.fr.mp3", "/audio/..%2Fsettings.py"]:
        assert portal.client.get(path).status_code == 404, path


def test_a_page_without_its_recording_shows_no_player(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / recording_name("closed", "fr")).write_bytes(b"ID3 not much")
    portal = make_portal(tmp_path, audio_dir=str(folder))

    french = portal.client.get("/?lang=fr").get_data(as_text=True)  # the splash: not recorded

    assert "<audio" not in french
    assert "<audio" not in page_of(tmp_path, "closed", "en", audio_dir=str(folder))
    assert "<audio" in page_of(tmp_path, "closed", "fr", audio_dir=str(folder))


def test_the_pages_may_play_their_own_media_and_still_run_no_script(tmp_path):
    portal = make_portal(tmp_path)

    policy = portal.client.get("/").headers["Content-Security-Policy"]

    assert "default-src 'none'" in policy
    assert "media-src 'self'" in policy
    assert "script-src" not in policy
