"""Pages read aloud for residents who do not read: what each recording says and where it is.

Shared by the wifi portal (:mod:`captive_portal.audio`) and the charging kiosk's touch page
(:mod:`agent.kiosk.audio`). Light on purpose: a page finds its recordings at run time with this
module alone; recording (espeak-ng, lame) is :func:`captive_portal.audio.speak`, at build time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from captive_portal.i18n import LANGUAGES, Catalogues, Language

SUFFIX = ".mp3"
MEDIA_TYPE = "audio/mpeg"
_END_OF_SENTENCE = frozenset(".?!:؟")


@dataclass(frozen=True)
class ReadAloud:
    """The pages of one app read aloud: the fixed sentences of each, in the page's order."""

    pages: Mapping[str, tuple[str, ...]]

    @staticmethod
    def recording_name(page: str, code: str) -> str:
        """``home.fr.mp3``: the file of ``page`` in the language ``code``."""
        return f"{page}.{code}{SUFFIX}"

    def page_script(self, page: str, gettext: Callable[..., str]) -> str:
        """What the recording of ``page`` says, one sentence a line, headlines ended by a full
        stop so the voice pauses after them."""
        lines = []
        for message in self.pages[page]:
            text = gettext(message).strip()
            lines.append(text if text[-1] in _END_OF_SENTENCE else f"{text}.")
        return "\n".join(lines)

    def record(
        self,
        out: Path,
        catalogues: Catalogues,
        languages: Iterable[Language] = LANGUAGES,
        pages: Iterable[str] | None = None,
    ) -> list[Path]:
        """Record every page in every language into ``out``; returns the files written.

        The recordings are made side by side, one process pair per core: the encoder takes
        most of the time (a quarter of a second for a page at -q 5, twice that at its default).
        """
        from captive_portal.audio import VOICES, speak  # the tools' side: only when recording

        jobs = []
        wanted = list(self.pages if pages is None else pages)
        for language in languages:
            gettext = catalogues.gettext_for(language.code)
            for page in wanted:
                target = out / self.recording_name(page, language.code)
                jobs.append((self.page_script(page, gettext), VOICES[language.code], target))
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(lambda job: speak(*job), jobs))  # list(): the first failure is raised
        return [target for _text, _voice, target in jobs]

    def find_recordings(self, directory: Path) -> dict[tuple[str, str], str]:
        """The recordings present in ``directory``: (page, language code) -> file name."""
        found = {}
        for page in self.pages:
            for language in LANGUAGES:
                name = self.recording_name(page, language.code)
                if (directory / name).is_file():
                    found[page, language.code] = name
        return found
