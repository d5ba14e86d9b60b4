"""The fleet's pages for a browser that asks for French: the fleet, a device, enrolment, and
what their forms answer, in French; devices and places named as they were entered."""

from __future__ import annotations

from datetime import timedelta

from controller.access import Role
from controller.fleet import enrolment
from controller.fleet.models import DeviceStatus
from tests.controller.testkit import csrf_token, page_text, sign_in, words
from tests.factories import make_device, make_site, make_user

FRENCH = {"Accept-Language": "fr"}


def test_fleet_page_reads_in_french_and_keeps_names_as_entered(client, db):
    site = make_site(db, name="Médiathèque Jean Jaurès")
    make_device(db, site, name="PC-Accueil-1", status=DeviceStatus.ONLINE)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get("/", headers=FRENCH)
    page, text = page_text(answer), words(answer)

    assert '<html lang="fr"' in page
    assert "Parc" in text and "Lieux" in text and "Tous les lieux" in text
    assert "PC public" in text and "En ligne" in text and "Dernier signal" in text
    assert "Médiathèque Jean Jaurès" in text and "PC-Accueil-1" in text
    assert "Last seen" not in text and "Online" not in text
    assert '"online": "En ligne"' in page  # the words app.js writes on live updates


def test_device_page_reads_in_french(client, db):
    site = make_site(db, name="Bibliothèque <Kateb> Yacine")
    inventory = {
        "hostname": "pc-kateb-3",
        "cpu_model": "Celeron",
        "cpu_count": 2,
        "disks": [
            {"device": "/dev/sda1", "mountpoint": "/", "fstype": "ext4", "total_bytes": 2**30}
        ],
    }
    metrics = {"memory_used_bytes": 2**29, "memory_total_bytes": 2**30, "users": []}
    device = make_device(db, site, name="pc-kateb-3", inventory=inventory, metrics=metrics)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get(f"/devices/{device.id}", headers=FRENCH)
    page, text = answer.get_data(as_text=True), words(answer)

    link = f'<a href="/sites/{site.id}">Bibliothèque &lt;Kateb&gt; Yacine</a>'
    assert f"PC public</span></span> à {link}" in page
    assert "<code>/dev/sda1</code> sur <code>/</code>, ext4, 1.0 GiB" in page
    assert "Celeron (2 cœurs)" in text and "512.0 MiB sur 1.0 GiB" in text
    assert "Dernier signal" in text and "Inventaire" in text and "Secret de l'appareil" in text
    assert "Latest metrics" not in text and "Device secret" not in text


def test_a_refused_token_is_explained_in_french_and_its_fields_too(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.ADMIN))

    too_long = client.post(
        "/tokens",
        data={
            "site": site.id,
            "validity_hours": "1000",
            "csrf_token": csrf_token(client, "/tokens"),
        },
        headers=FRENCH,
    )
    blank = client.post(
        "/tokens",
        data={"site": site.id, "validity_hours": "", "csrf_token": csrf_token(client, "/tokens")},
        headers=FRENCH,
    )

    assert too_long.status_code == 400
    assert "un jeton est valable entre une minute et 30 jours" in words(too_long)
    assert "Enrôler un appareil" in words(too_long) and "Valable pendant (heures)" in words(blank)
    assert blank.status_code == 400 and "This field is required." not in words(blank)


def test_revoking_a_token_is_confirmed_in_french(client, db):
    site = make_site(db, name="MDH Teisseire")
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1), note="PC 3")
    sign_in(client, make_user(db, Role.ADMIN))
    assert "Révoquer le jeton pour MDH Teisseire, PC 3" in page_text(
        client.get("/tokens", headers=FRENCH)
    )

    answer = client.post(
        f"/tokens/{issued.record.id}/revoke",
        data={"csrf_token": csrf_token(client, "/tokens")},
        headers=FRENCH,
        follow_redirects=True,
    )

    text = words(answer)
    assert "Le jeton pour MDH Teisseire est révoqué : il n'enrôle plus rien." in text
    assert "Révoqué" in text


def test_a_new_secret_asked_for_is_confirmed_in_french(client, db):
    device = make_device(db, name="pc-accueil-2")
    sign_in(client, make_user(db, Role.ADMIN))
    page = f"/devices/{device.id}"

    answer = client.post(
        f"{page}/secret-rotation",
        data={"csrf_token": csrf_token(client, page)},
        headers=FRENCH,
        follow_redirects=True,
    )

    text = words(answer)
    assert "pc-accueil-2 recevra un nouveau secret à son prochain signal" in text
    assert "Un nouveau secret a été demandé le" in text


def test_an_unknown_device_is_said_in_french(client, db):
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get("/devices/nope", headers=FRENCH)

    assert answer.status_code == 404 and "Aucun appareil nope" in words(answer)
