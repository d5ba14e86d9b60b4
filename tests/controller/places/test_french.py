"""A site's page for a browser that asks for French: the page, its schedule, its closures and
what the closure form answers, in French; the place's own data as it was entered."""

from __future__ import annotations

from sqlalchemy import select

from controller.access import Role
from controller.places.models import SiteClosure
from tests.controller.testkit import csrf_token, page_text, sign_in, words
from tests.factories import make_device, make_site, make_user

FRENCH = {"Accept-Language": "fr"}


def test_site_page_reads_in_french_and_keeps_the_place_as_entered(client, db):
    site = make_site(
        db,
        name="Médiathèque Jean Jaurès",
        address="10 rue de la République",
        opening_hours="Mo-Su 10:00-18:00",
    )
    make_device(db, site)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get(f"/sites/{site.id}", headers=FRENCH)
    page, text = page_text(answer), words(answer)

    assert '<html lang="fr"' in page
    assert "Horaires d'ouverture" in text and "10:00\N{EN DASH}18:00" in text
    assert "Planning des 7 prochains jours" in text
    assert "Réveiller les PC" in text and "ouvre à 10:00" in text
    assert "Fermer ces jours-là" in page and "Premier jour fermé" in text
    assert "Médiathèque Jean Jaurès" in text and "10 rue de la République" in text
    assert "Schedule, next 7 days" not in text and "Wake the PCs" not in text


def test_a_closure_is_confirmed_and_listed_in_french(client, db):
    site = make_site(db, name="MDH Nord")
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/sites/{site.id}/closures",
        data={
            "starts_on": "2099-01-01",
            "ends_on": "2099-01-03",
            "reason": "inventaire",
            "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        },
        headers=FRENCH,
        follow_redirects=True,
    )

    text = words(answer)
    assert "MDH Nord est fermé du 1 janv. 2099 au 3 janv. 2099 : aucun réveil" in text
    assert "du 01 janv. 2099 au 03 janv. 2099 : inventaire" in text


def test_a_refused_closure_is_explained_in_french(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/sites/{site.id}/closures",
        data={
            "starts_on": "2099-01-03",
            "ends_on": "2099-01-01",
            "csrf_token": csrf_token(client, f"/sites/{site.id}"),
        },
        headers=FRENCH,
    )

    assert answer.status_code == 400
    assert "une fermeture ne peut pas finir (2099-01-01) avant de commencer" in page_text(answer)
    assert db.scalars(select(SiteClosure)).all() == []


def test_an_unknown_site_is_not_found_in_french(client, db):
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get("/sites/999999", headers=FRENCH)

    assert answer.status_code == 404 and "aucun lieu 999999" in page_text(answer).lower()
