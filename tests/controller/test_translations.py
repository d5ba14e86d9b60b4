"""The staff pages' catalogues (controller/i18n.py): every message the code and the templates show
has a French translation, with the same placeholders, and every catalogue is compiled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = ROOT / "controller"
PYBABEL = Path(sys.executable).parent / "pybabel"
NOT_DOMAINS = {"web", "api", "migrations", "data", "__pycache__"}


def catalogue_sources() -> dict[str, list[Path]]:
    """Each catalogue's folder and what it translates, as ``make translations`` reads them."""
    kernel = [CONTROLLER / "web", CONTROLLER / "api", *sorted(CONTROLLER.glob("*.py"))]
    sources = {"web": kernel}
    for package in sorted(CONTROLLER.iterdir()):
        if (package / "__init__.py").exists() and package.name not in NOT_DOMAINS:
            sources[package.name] = [package]
    return sources


def extracted(sources: list[Path], tmp_path: Path) -> Catalog:
    template = tmp_path / "messages.pot"
    subprocess.run(
        [str(PYBABEL), "extract", "-F", str(CONTROLLER / "babel.cfg"), "-k", "_l",
         "--no-location", "--omit-header", "-o", str(template), *map(str, sources)],
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    with template.open("rb") as file:
        return read_po(file)


@pytest.mark.parametrize("name", sorted(catalogue_sources()))
def test_every_message_has_a_french_translation(name: str, tmp_path: Path) -> None:
    wanted = extracted(catalogue_sources()[name], tmp_path)
    messages = [m for m in wanted if m.id]
    folder = (CONTROLLER / name) / "translations"
    if not messages:
        assert not folder.exists(), f"{folder} translates nothing any more: remove it"
        return
    po = folder / "fr" / "LC_MESSAGES" / "messages.po"
    assert po.exists(), f"no French catalogue for {name}: run make translations"
    with po.open("rb") as file:
        french = read_po(file)

    untranslated = [
        m.id for m in messages if not (french.get(m.id) and _translated(french.get(m.id)))
    ]
    assert untranslated == [], f"translate these in {po.relative_to(ROOT)}"
    problems = [(m.id, errors) for m, errors in french.check() if errors and m.id]
    assert problems == [], "placeholders that differ from the English text"


@pytest.mark.parametrize("name", sorted(catalogue_sources()))
def test_every_catalogue_is_compiled_from_its_latest_text(name: str) -> None:
    folder = CONTROLLER / name / "translations" / "fr" / "LC_MESSAGES"
    if not (folder / "messages.po").exists():
        return
    with (folder / "messages.po").open("rb") as file:
        source = {_key(m.id): _key(m.string) for m in read_po(file) if m.id and _translated(m)}
    with (folder / "messages.mo").open("rb") as file:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(file) if m.id}
    assert compiled == source, "run make translations to compile the catalogue again"


def _key(value: object) -> object:
    """A plural's forms come as a list from one reader and a tuple from the other."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _translated(message: object) -> bool:
    string = getattr(message, "string", "")
    flags = getattr(message, "flags", set())
    if isinstance(string, tuple | list):
        return all(string) and "fuzzy" not in flags
    return bool(string) and "fuzzy" not in flags
