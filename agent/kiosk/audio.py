"""The kiosk's touch page read aloud, for residents who do not read: ``make kiosk-audio``.

The portal's way (:mod:`captive_portal.audio`), with the portal's voice and encoder: each
recording says a page's fixed sentences in the page's language, taken from the kiosk's
catalogues, so the voice says what the screen shows (``tests/agent/kiosk/test_web.py`` checks
each sentence is on its page). What changes (the locker's number, the code, the wait) is left
out: a recording would say something false, and a code must never be spoken aloud in a public
place. The page plays them with a plain ``<audio>`` element; nothing is recorded on the kiosk
at run time, so the agent needs neither espeak-ng nor lame.

Run ``python -m agent.kiosk.audio [--out DIR]`` (the Makefile's ``kiosk-audio`` target).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import click

from captive_portal.i18n import LANGUAGES, Catalogues, Language
from captive_portal.read_aloud import MEDIA_TYPE as MEDIA_TYPE
from captive_portal.read_aloud import ReadAloud

DEFAULT_AUDIO_DIR = Path(__file__).resolve().parent / "audio"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
# The sentences of each step, in the page's order, as its template says them.
PAGES: Mapping[str, tuple[str, ...]] = {
    "home": (
        "Charge your phone here, for free",
        "We ask for nothing: no name, no phone number.",
        "Charge my phone",
        "Take my phone back",
        "You get a code. Only this code opens your locker.",
    ),
    "charge": (
        "Put your phone in the locker.",
        "Plug your phone into the cable inside.",
        "Close the door.",
        "Then tap Done.",
    ),
    "code": (
        "Write it down or take a photo of it.",
        "You need this code to take your phone back. We cannot show it again.",
    ),
    "take": (
        "Which locker is yours?",
        "Tap the number of your locker.",
    ),
    "keypad": ("Type your 6-digit code, then tap Open.",),
    "opened": (
        "Unplug your phone, take it, and close the door.",
        "Thank you, see you soon.",
    ),
}
READ_ALOUD = ReadAloud(PAGES)
recording_name = READ_ALOUD.recording_name
page_script = READ_ALOUD.page_script
find_recordings = READ_ALOUD.find_recordings


def record_pages(
    out: Path,
    catalogues: Catalogues,
    languages: Iterable[Language] = LANGUAGES,
    pages: Iterable[str] = PAGES,
) -> list[Path]:
    """Record every page in every language into ``out`` with the portal's voices; returns the
    files written."""
    return READ_ALOUD.record(out, catalogues, languages, pages)


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_AUDIO_DIR,
    show_default=True,
    help="Directory to record into (where the kiosk's page finds them).",
)
def main(out: Path) -> None:
    """Record the kiosk's touch page read aloud, in every language (espeak-ng, lame)."""
    from captive_portal.audio import AudioToolMissing

    try:
        written = record_pages(out, Catalogues.load(TRANSLATIONS_DIR))
    except AudioToolMissing as exc:
        click.echo(f"kiosk audio: {exc}", err=True)
        sys.exit(2)
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace").strip() if exc.stderr else ""
        click.echo(f"kiosk audio: {exc.cmd[0]} failed: {stderr}", err=True)
        sys.exit(1)
    click.echo(f"{len(written)} recordings in {out}")


if __name__ == "__main__":
    main()
