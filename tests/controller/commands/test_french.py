"""Commands from the staff pages for a browser that asks for French: the buttons, the
confirmation, what a sent or refused command answers, and the words of the page's script."""

from __future__ import annotations

from controller.access import Role
from controller.fleet.models import DeviceStatus
from tests.controller.testkit import csrf_token, page_text, send, sign_in, words
from tests.factories import make_device, make_site, make_user

FRENCH = {"Accept-Language": "fr"}


def send_in_french(client, path: str, command: str, *, json_: bool = False, **fields):
    data = {"command": command, "csrf_token": csrf_token(client, path), **fields}
    headers = {**FRENCH, **({"Accept": "application/json"} if json_ else {})}
    return client.post(f"{path}/commands", data=data, headers=headers)


def test_device_page_offers_its_commands_in_french(client, db):
    device = make_device(db, name="pc-accueil")
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[device.site]))

    answer = client.get(f"/devices/{device.id}", headers=FRENCH)
    page, text = page_text(answer), words(answer)

    assert '<html lang="fr"' in page
    assert "Réinitialiser maintenant" in text and "Verrouiller l'écran" in text
    assert "Afficher le message" in text and "Commandes récentes" in text
    assert "Terminer la session en cours et effacer tout ce que la personne a laissé ?" in page
    assert "Reset now" not in text and "Recent commands" not in text


def test_a_sent_command_is_flashed_in_french(client, db):
    device = make_device(db, name="pc-accueil")
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[device.site]))

    answer = send_in_french(client, f"/devices/{device.id}", "lock_screen")
    page = client.get(answer.headers["Location"], headers=FRENCH)

    text = words(page)
    assert "Commande « Verrouiller l'écran » envoyée à pc-accueil." in text
    assert "En attente" in text  # its state in Recent commands


def test_a_message_without_text_is_refused_in_french(client, db):
    device = make_device(db)
    sign_in(client, make_user(db, Role.ADMIN))

    empty = send_in_french(client, f"/devices/{device.id}", "show_message", text="  ")
    too_long = send_in_french(
        client, f"/devices/{device.id}", "show_message", text="Bonjour", seconds="99999"
    )

    assert empty.status_code == 400
    assert "Rien n'a été envoyé. Écrivez le message à afficher à l'écran." in words(empty)
    assert too_long.status_code == 422
    assert "paramètres non valables pour show_message" in words(too_long)


def test_a_disruptive_command_asks_in_french_without_javascript(client, db):
    device = make_device(db, name="pc-accueil")
    sign_in(client, make_user(db, Role.ADMIN))

    asked = send_in_french(client, f"/devices/{device.id}", "reboot")

    text = words(asked)
    assert "Redémarrer l'appareil maintenant ?" in text
    assert "Oui, redémarrer" in text and "Annuler" in text


def test_site_commands_ask_in_french_and_answer_the_script_in_french(client, db):
    site = make_site(db, name="Médiathèque")
    for n in range(3):
        make_device(db, site, name=f"pc-{n}", status=DeviceStatus.ONLINE)
    sign_in(client, make_user(db, Role.TECHNICIAN, sites=[site]))

    page = page_text(client.get(f"/sites/{site.id}", headers=FRENCH))
    answer = send_in_french(client, f"/sites/{site.id}", "lock_screen", json_=True, confirmed="yes")

    assert "Tout redémarrer à Médiathèque (3 appareils) maintenant ?" in page
    assert answer.status_code == 201
    assert answer.get_json()["message"] == (
        "Commande « Verrouiller tous les écrans » envoyée à 3 appareils à Médiathèque. "
        "Suivez-les dans Commandes récentes."
    )


def test_english_readers_still_get_english(client, db):
    device = make_device(db, name="pc-accueil")
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[device.site]))

    answer = send(client, f"/devices/{device.id}", "lock_screen")

    assert answer.status_code == 302
    assert "Lock the screen: sent to pc-accueil." in words(client.get(answer.headers["Location"]))
