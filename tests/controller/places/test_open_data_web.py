"""A site's open-data fields on the staff pages (controller/places/web.py): the site page says
whether the place is published and what it misses, an admin edits the fields (each refused one
says why, nothing is stored), and the list of public places the export leaves out."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from controller.access import Role
from controller.audit import AuditLog
from controller.places.models import Site
from tests.controller.testkit import csrf_token, page_text, sign_in, words
from tests.factories import make_site, make_user

SIRET = "43493312300029"


def complete_site(db, **overrides) -> Site:
    """A public site with every field the export requires."""
    return make_site(
        db,
        **{
            "pivot": SIRET,
            "address": "1 place de Verdun",
            "postcode": "38000",
            "data_updated_on": date(2026, 11, 22),
            **overrides,
        },
    )


def edit(client, site: Site, **fields):
    path = f"/sites/{site.id}/open-data"
    return client.post(path, data={"csrf_token": csrf_token(client, path), **fields})


def test_the_site_page_lists_the_fields_a_place_misses_to_be_published(client, db):
    site = make_site(db, pivot="", postcode="", address="2 rue Pierre Dupont")
    sign_in(client, make_user(db, Role.ADMIN))

    text = words(client.get(f"/sites/{site.id}"))

    assert "Not published in open data: missing SIRET/RNA, postcode, update date." in text
    assert "Change the open-data fields" in text


def test_the_site_page_says_a_complete_place_is_published(client, db):
    site = complete_site(db)
    sign_in(client, make_user(db, Role.ADMIN))
    text = words(client.get(f"/sites/{site.id}"))
    assert "Published in open data, data of 22 Nov 2026." in text and SIRET in text


def test_an_admin_saves_the_fields_tidied_dated_today_and_audited(client, db):
    site = make_site(db)
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)

    answer = edit(
        client,
        site,
        pivot="434 933 123 00029",
        typology=["BIB"],
        services=["Aide aux démarches administratives", "Loisirs et créations numériques"],
        publics=["Seniors"],
        access_modes=["Se présenter"],
        support_modes=["En autonomie", "Accompagnement individuel"],
        fees=["Gratuit"],
        phone="04 76 00 00 00",
        email="accueil@example.fr",
        website="https://bm-grenoble.fr",
        accessibility_url="https://acceslibre.beta.gouv.fr/app/38-grenoble/a/bibliotheque/erp/x/",
        summary="Ordinateurs en libre accès et aide aux démarches.",
        insee_code="38185",
    )

    assert answer.status_code == 302 and answer.location.endswith(f"/sites/{site.id}#open-data")
    db.refresh(site)
    assert (site.pivot, site.phone, site.typology) == (SIRET, "+33476000000", ["BIB"])
    assert site.support_modes == ["En autonomie", "Accompagnement individuel"]
    assert site.data_updated_on is not None and site.data_updated_on >= date(2026, 1, 1)
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "site.open_data")).one()
    assert entry.actor_id == admin.id and entry.detail["after"]["pivot"] == SIRET
    assert "Open-data fields of" in words(client.get(f"/sites/{site.id}"))


def test_each_refused_field_says_why_under_it_and_nothing_is_stored(client, db):
    site = make_site(db, pivot="")
    sign_in(client, make_user(db, Role.ADMIN))

    answer = edit(
        client,
        site,
        pivot="43493312300028",
        phone="appeler l'accueil",
        accessibility_url="acceslibre.beta.gouv.fr/app/x",
        summary="x" * 300,
        services=["Accès au wifi"],
    )

    assert answer.status_code == 400
    page = page_text(answer)
    assert "Some fields are refused: see why under each of them. Nothing was saved." in page
    assert 'id="pivot-error">43493312300028 is not a SIRET: its check digit is wrong' in page
    assert 'id="phone-error">' in page and 'id="accessibility_url-error">give one address' in page
    assert 'id="summary-error">at most 280 characters (300 given)' in page
    assert "id=\"services-error\">'Accès au wifi' is not a value of the national schema" in page
    assert 'value="appeler l&#39;accueil"' in answer.get_data(as_text=True)  # kept to fix
    db.refresh(site)
    assert (site.pivot, site.data_updated_on) == ("", None)
    assert db.scalars(select(AuditLog).where(AuditLog.action == "site.open_data")).all() == []


def test_a_mediator_sees_the_status_but_may_not_edit_the_fields(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    assert "Change the open-data fields" not in words(client.get(f"/sites/{site.id}"))
    assert client.get(f"/sites/{site.id}/open-data").status_code == 403
    assert edit_without_form(client, site).status_code == 403
    db.refresh(site)
    assert site.pivot == ""


def edit_without_form(client, site: Site):
    """A post as a script would send it: the CSRF token of a page the mediator may see."""
    return client.post(
        f"/sites/{site.id}/open-data",
        data={"csrf_token": csrf_token(client, f"/sites/{site.id}"), "pivot": SIRET},
    )


def test_the_places_left_out_are_listed_with_what_each_misses(client, db):
    complete_site(db, name="Bibliothèque complète")
    make_site(db, name="MDH sans SIRET", pivot="", postcode="38100", address="2 rue X")
    make_site(db, name="Lieu privé", public=False)
    sign_in(client, make_user(db, Role.ADMIN))

    text = words(client.get("/sites/open-data"))

    assert "1 public place is published. 1 is left out until its required fields are given." in text
    assert "MDH sans SIRET SIRET/RNA, update date" in text
    assert "Lieu privé" not in text and "Bibliothèque complète" not in text


FRENCH = {"Accept-Language": "fr"}


def test_the_open_data_fields_read_in_french_with_the_schemas_own_words(client, db):
    site = make_site(db, pivot="", postcode="", address="2 rue Pierre Dupont")
    sign_in(client, make_user(db, Role.ADMIN))

    page = words(client.get(f"/sites/{site.id}", headers=FRENCH))
    form = words(client.get(f"/sites/{site.id}/open-data", headers=FRENCH))
    path = f"/sites/{site.id}/open-data"
    refused = words(
        client.post(
            path,
            headers=FRENCH,
            data={"csrf_token": csrf_token(client, path), "pivot": "1234"},
        )
    )

    assert "Non publié en open data : manque SIRET/RNA, code postal, date de mise à jour." in page
    assert "Modifier les champs open data" in page
    assert "Typologie de la structure" in form and "BIB — Bibliothèque / Médiathèque" in form
    assert "Aide aux démarches administratives" in form and "Familles et/ou enfants" in form
    assert "Enregistrer les champs open data" in form
    assert "Des champs sont refusés" in refused
    assert "donnez un SIRET (14 chiffres) ou un numéro RNA (W et 9 chiffres), pas '1234'" in refused


def test_the_api_says_what_each_site_misses_for_open_data(client, db):
    complete = complete_site(db, name="A")
    lacking = make_site(db, name="B", pivot="", postcode="38000", address="2 rue X")
    sign_in(client, make_user(db, Role.ADMIN))

    sites = {s["id"]: s for s in client.get("/api/v1/sites").get_json()}

    assert (sites[complete.id]["pivot"], sites[complete.id]["open_data_missing"]) == (SIRET, [])
    assert sites[lacking.id]["open_data_missing"] == ["pivot", "date_maj"]
