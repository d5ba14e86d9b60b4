"""The pages read aloud: the "Listen" player of the splash and closed pages, for residents who
do not read.

``borne portal audio`` records them once, when the portal is installed (``make portal-audio``),
never while serving: the pages stay plain HTML with an ``<audio>`` element, no JavaScript, and
the hotspot speaks nothing it was not given at build time. Each recording says a page's fixed
sentences in the page's language, taken from the catalogues, so the voice says what the page
shows (``tests/captive_portal/test_audio.py`` checks each sentence is on its page). What
changes with the settings or the hour (the session's length, the next opening) is left out: a
recording would soon say something false.

The voice is espeak-ng's (Debian's ``espeak-ng``); ``lame`` encodes it to MP3, which every
phone plays (Ogg Opus is smaller, but older iPhones play no Ogg). At 24 kbit/s mono the splash
page's half-minute weighs 80 to 130 KB, the closed page's few seconds about 20 KB, and nothing is
downloaded until the resident taps play (``preload="none"``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import click

from captive_portal.i18n import LANGUAGES, Catalogues, Language
from captive_portal.read_aloud import MEDIA_TYPE as MEDIA_TYPE
from captive_portal.read_aloud import SUFFIX, ReadAloud
from captive_portal.settings import DEFAULT_AUDIO_DIR

# The sentences of each page, in the page's order, as its template says them. "code" is the
# splash page in code mode: its headline and its help differ.
PAGES: Mapping[str, tuple[str, ...]] = {
    "splash": (
        "Go online for free, in one tap",
        "We ask for nothing: no name, no email, no phone.",
        "By tapping Connect, you accept the rules below.",
        "It is free.",
        "No account. We do not know who you are. We keep no list of the websites you visit.",
        "Respect the law and other people. Illegal downloads are forbidden.",
        "A problem? Ask the staff at the desk.",
    ),
    "code": (
        "Type the code to go online for free",
        "We ask only for a code: no name, no email, no phone.",
        "Ask the staff at the desk for the code. It has 6 or 8 digits.",
        "By tapping Connect, you accept the rules below.",
        "It is free.",
        "No account. We do not know who you are. We keep no list of the websites you visit.",
        "Respect the law and other people. Illegal downloads are forbidden.",
    ),
    "closed": (
        "The wifi is closed now",
        "A problem? Ask the staff at the desk.",
    ),
}
# espeak-ng's voice for each language (``espeak-ng --voices``). It has no Dari voice: Persian
# ("fa") is the closest, the same script and nearly all the same words, with Tehran's accent.
VOICES: Mapping[str, str] = {
    "fr": "fr-fr",
    "en": "en-gb",
    "ar": "ar",
    "es": "es",
    "tr": "tr",
    "pt": "pt",
    "ro": "ro",
    "uk": "uk",
    "fa-AF": "fa",
}
WORDS_PER_MINUTE = 140  # espeak-ng's default is 175: slower is easier to follow
BITRATE_KBIT = 24  # plenty for a synthetic voice at espeak-ng's 22.05 kHz
READ_ALOUD = ReadAloud(PAGES)
recording_name = READ_ALOUD.recording_name
page_script = READ_ALOUD.page_script
find_recordings = READ_ALOUD.find_recordings


class AudioToolMissing(RuntimeError):
    """espeak-ng or lame is not installed."""


def speak(text: str, voice: str, target: Path) -> None:
    """Record ``text`` with espeak-ng's ``voice`` into the MP3 file ``target``, atomically."""
    for tool in ("espeak-ng", "lame"):
        if shutil.which(tool) is None:
            raise AudioToolMissing(f"{tool} is not installed: apt-get install espeak-ng lame")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".recording-") as work:
        wav, mp3 = Path(work) / "page.wav", Path(work) / f"page{SUFFIX}"
        # The text on standard input, UTF-8 (-b 1): no sentence is mistaken for an option.
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-b", "1", "-w", str(wav)],
            input=text.encode(),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["lame", "--quiet", "-q", "5", "-m", "m", "-b", str(BITRATE_KBIT), str(wav), str(mp3)],
            check=True,
            capture_output=True,
        )
        mp3.replace(target)


def record_pages(
    out: Path,
    catalogues: Catalogues,
    languages: Iterable[Language] = LANGUAGES,
    pages: Iterable[str] = PAGES,
) -> list[Path]:
    """Record every page in every language into ``out``; returns the files written."""
    return READ_ALOUD.record(out, catalogues, languages, pages)


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_AUDIO_DIR,
    show_default=True,
    help="Directory to record into (the portal's setting audio_dir).",
)
def audio(out: Path) -> None:
    """Record the splash and closed pages read aloud, in every language (espeak-ng, lame)."""
    try:
        written = record_pages(out, Catalogues.load())
    except AudioToolMissing as exc:
        click.echo(f"borne portal audio: {exc}", err=True)
        sys.exit(2)
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace").strip() if exc.stderr else ""
        click.echo(f"borne portal audio: {exc.cmd[0]} failed: {stderr}", err=True)
        sys.exit(1)
    click.echo(f"{len(written)} recordings in {out}")
