"""An admin completes a place's open-data fields on a phone, in French, in Debian's Chromium at
360 px against a real controller process: the site page says what the place misses, the form
says under each field why a value is refused, and once saved the place is published in
``/open-data/places.csv``. Nothing scrolls sideways and axe-core finds no WCAG 2.1 AA violation
on the site page, the form (with its errors shown) and the list of places left out."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser_testkit import CHROMIUM, PASSWORD, axe_violations, chromium
from tests.e2e.controller_process import ControllerProcess

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
PHONE = {"width": 360, "height": 740}
PLACES = "id,organisation,nom,commune,code_postal,adresse,horaires\n" + (
    "mdh-nord,Ville de Grenoble,Maison des habitants Nord,Grenoble,38000,2 rue Pierre Dupont,"
    "Mo-Fr 09:00-17:00\n"
)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[ControllerProcess]:
    """A controller with one place that has no SIRET yet."""
    process = ControllerProcess(tmp_path / "controller")
    process.data_dir.mkdir(parents=True)
    process.migrate()
    places = tmp_path / "places.csv"
    places.write_text(PLACES, encoding="utf-8")
    process.cli("places", "import", str(places))
    process.add_user("robin", PASSWORD, "admin")
    process.start()
    yield process
    process.stop()


def fits_and_passes_axe(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} is {width[0]} px wide at {width[1]} px"
    assert axe_violations(page) == [], page.url


def left_out(controller: ControllerProcess) -> str:
    with urllib.request.urlopen(f"{controller.url}/open-data/places.csv", timeout=10) as answer:
        return answer.headers["X-Borne-Left-Out"]


def test_an_admin_completes_a_place_on_a_phone_and_it_is_published(controller):
    assert left_out(controller) == "1"
    with chromium() as browser:
        page = browser.new_context(viewport=PHONE, locale="fr-FR", bypass_csp=True).new_page()
        page.goto(f"{controller.url}/")
        page.get_by_label("Identifiant").fill("robin")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()

        page.goto(f"{controller.url}/sites/open-data")
        expect(page.get_by_role("row", name="Maison des habitants Nord SIRET/RNA")).to_be_visible()
        fits_and_passes_axe(page)
        page.get_by_role("link", name="Maison des habitants Nord").click()

        expect(page.get_by_role("heading", name="Open data")).to_be_visible()
        page.get_by_label("SIRET ou numéro RNA").fill("434 933 123 00028")
        page.get_by_role("textbox", name="Téléphone").fill("appeler l'accueil")
        page.get_by_role("group", name="Typologie de la structure").get_by_label(
            "MQ — Maison de quartier"
        ).check()
        page.get_by_label("Aide aux démarches administratives").check()
        page.get_by_role("button", name="Enregistrer les champs open data").click()

        expect(page.get_by_role("alert")).to_contain_text("Des champs sont refusés")
        expect(page.locator("#pivot-error")).to_contain_text("sa clé de contrôle est fausse")
        expect(page.get_by_label("SIRET ou numéro RNA")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Aide aux démarches administratives")).to_be_checked()
        fits_and_passes_axe(page)

        page.get_by_label("SIRET ou numéro RNA").fill("434 933 123 00029")
        page.get_by_role("textbox", name="Téléphone").fill("04 76 00 00 00")
        page.get_by_role("button", name="Enregistrer les champs open data").click()

        expect(page.get_by_text("Publié en open data")).to_be_visible()
        expect(page.get_by_text("+33476000000")).to_be_visible()
        fits_and_passes_axe(page)
    assert left_out(controller) == "0"
