"""A mediator reports a problem from a phone, in French, in a real Chromium at 360 px against a
real controller process: from the PC's page, "Signaler un problème", "Imprimante bloquée ou
vide", a few words, Send, and the ticket's page, routed to the team an admin set up; then the
team's comment shows up on the mediator's page live, without a reload and without losing what
the mediator was typing. axe-core finds nothing, and nothing scrolls sideways."""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.browser_testkit import ARTIFACTS, CHROMIUM, PASSWORD, axe_violations

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]
SITE = "grenoble-bib-centre-ville"
ORGANISATION = "Bibliothèques de Grenoble"
PHONE = {"width": 360, "height": 740}


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide at {width[1]} px"


def accessible(page: Page) -> None:
    assert axe_violations(page) == []


def signed_in_in_french(browser, base_url: str, username: str) -> Page:
    page = browser.new_page(viewport=PHONE, locale="fr-FR", bypass_csp=True)
    page.goto(f"{base_url}/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Parc", exact=True)).to_be_visible()
    return page


def test_mediator_reports_a_printer_jam_from_a_phone_and_follows_it_live(live_controller, browser):
    live_controller.add_user("robin", PASSWORD, "admin")
    live_controller.add_user("mia", PASSWORD, "mediator", "--site", SITE)
    pc, secret = live_controller.enrol_device(SITE, "pc", "pc-accueil")
    live_controller.send_heartbeat(pc, secret, 1)
    ARTIFACTS.mkdir(exist_ok=True)

    # City IT sets up the team serving the libraries.
    admin = signed_in_in_french(browser, live_controller.url, "robin")
    admin.goto(f"{live_controller.url}/teams")
    admin.get_by_label("Nom", exact=True).fill("Équipe ville")
    admin.get_by_label(ORGANISATION).check()
    admin.get_by_role("button", name="Créer l'équipe").click()
    expect(admin.get_by_text("L'équipe Équipe ville est créée.")).to_be_visible()

    # The mediator, at the PC: three taps and a few words.
    mia = signed_in_in_french(browser, live_controller.url, "mia")
    mia.goto(f"{live_controller.url}/devices/{pc}")
    mia.get_by_role("button", name="Signaler un problème").click()
    expect(mia.get_by_role("heading", name="Qu'est-ce qui ne va pas ?")).to_be_visible()
    no_sideways_scroll(mia)
    accessible(mia)
    mia.screenshot(path=str(ARTIFACTS / "ticket-phone-report.png"), full_page=True)
    mia.get_by_role("button", name="Imprimante bloquée ou vide").click()
    mia.get_by_label("Quelques mots").fill("Papier coincé dans le bac 2.")
    no_sideways_scroll(mia)
    accessible(mia)
    mia.get_by_role("button", name="Envoyer").click()

    expect(mia.get_by_role("heading", level=1)).to_have_text(
        "Imprimante bloquée ou vide : pc-accueil"
    )
    expect(mia.locator(".flashes")).to_contain_text(
        "Problème signalé (ticket 1) : Équipe ville l'a reçu."
    )
    expect(mia.locator("#ticket-facts")).to_contain_text("Nouveau")
    expect(mia.locator("#ticket-facts")).to_contain_text("Équipe ville")
    expect(mia.get_by_text("Papier coincé dans le bac 2.")).to_be_visible()
    expect(mia.locator("#live-indicator")).to_have_text("En direct", timeout=15_000)
    no_sideways_scroll(mia)
    accessible(mia)
    mia.screenshot(path=str(ARTIFACTS / "ticket-phone.png"), full_page=True)

    # The team answers; the mediator's page shows it at once, and keeps what she is typing.
    mia.get_by_label("Votre commentaire").fill("La file d'impression est bloquée aussi")
    admin.goto(f"{live_controller.url}/tickets/1")
    admin.get_by_label("Votre commentaire").fill("Je passe cet après-midi.")
    admin.get_by_role("button", name="Ajouter le commentaire").click()
    expect(admin.get_by_text("Votre commentaire est ajouté.")).to_be_visible()

    history = mia.locator("#ticket-history")
    expect(history).to_contain_text("robin a écrit :", timeout=15_000)
    expect(history).to_contain_text("Je passe cet après-midi.")
    expect(mia.get_by_label("Votre commentaire")).to_have_value(
        "La file d'impression est bloquée aussi"
    )
    no_sideways_scroll(mia)
    accessible(mia)
    mia.screenshot(path=str(ARTIFACTS / "ticket-phone-live.png"), full_page=True)
