"""Configuration on the staff pages (controller/configuration/web.py): a device's settings in
force with their origin, a layer's form, the difference shown before anything is sent, the
rollout followed device by device, a rollback; in French as staff read them."""

from __future__ import annotations

from sqlalchemy import select

from controller.access import Role
from controller.commands.models import Command
from controller.configuration.models import ConfigLayer
from tests.controller.testkit import csrf_token, sign_in, words
from tests.factories import make_device, make_organisation, make_site, make_user

FRENCH = {"Accept-Language": "fr"}


def test_a_device_page_says_where_each_setting_comes_from(client, db):
    pc = make_device(db, name="pc-accueil")
    sign_in(client, make_user(db, Role.ADMIN))

    page = words(client.get(f"/devices/{pc.id}", headers=FRENCH))

    assert "Réglages en vigueur" in page
    assert "Battement toutes les 10 secondes — par défaut" in page


def test_an_admin_sees_the_difference_then_rolls_out_and_follows_it(client, db):
    organisation = make_organisation(db, name="Bibliothèques de Grenoble")
    site = make_site(db, organisation, name="Centre-Ville")
    pcs = [make_device(db, site, name=f"pc-{n}") for n in (1, 2)]
    sign_in(client, make_user(db, Role.ADMIN))
    layer_url = f"/configuration/organisation/{organisation.id}"

    form = client.get(layer_url, headers=FRENCH)
    preview = client.post(
        f"{layer_url}/preview",
        data={"heartbeat_interval_s": "30", "csrf_token": csrf_token(client, layer_url)},
        headers=FRENCH,
    )
    assert db.scalars(select(Command)).all() == []  # shown, not sent
    applied = client.post(
        f"{layer_url}/apply",
        data={
            "settings": '{"heartbeat_interval_s": 30}',
            "strategy": "now",
            "spread_min": "5",
            "csrf_token": csrf_token(client, layer_url),
        },
        headers=FRENCH,
        follow_redirects=True,
    )

    assert "Réglages de Bibliothèques de Grenoble" in words(form)
    assert "2 appareils reçoivent de nouveaux réglages" in words(preview)
    assert "pc-1" in words(preview) and "10 → 30" in words(preview)
    assert applied.status_code == 200
    assert "Version 1 enregistrée" in words(applied)
    assert "2 envoyé" in words(applied)
    assert {c.device_id for c in db.scalars(select(Command))} == {pc.id for pc in pcs}


def test_a_bad_value_keeps_the_form_and_saves_nothing(client, db):
    site = make_site(db)
    make_device(db, site)
    sign_in(client, make_user(db, Role.ADMIN))
    layer_url = f"/configuration/site/{site.id}"

    refused = client.post(
        f"{layer_url}/preview",
        data={"heartbeat_interval_s": "0", "csrf_token": csrf_token(client, layer_url)},
        headers=FRENCH,
    )

    assert refused.status_code == 422
    assert "heartbeat_interval_s" in words(refused)
    assert 'value="0"' in refused.get_data(as_text=True)
    assert db.scalars(select(ConfigLayer)).all() == []


def test_a_mediator_may_not_open_the_layer_form(client, db):
    site = make_site(db)
    sign_in(client, make_user(db, Role.MEDIATOR, sites=[site]))

    page = client.get(f"/configuration/site/{site.id}", headers=FRENCH)

    assert page.status_code == 200 and "heartbeat_interval_s" not in page.get_data(as_text=True)


def test_a_blank_field_says_what_it_falls_back_to(client, db):
    organisation = make_organisation(db)
    site = make_site(db, organisation)
    sign_in(client, make_user(db, Role.ADMIN))
    client.put(
        f"/api/v1/config/organisation/{organisation.id}",
        json={"settings": {"heartbeat_interval_s": 30}},
    )

    page = client.get(f"/configuration/site/{site.id}", headers=FRENCH).get_data(as_text=True)

    assert 'placeholder="30 si vide"' in page
    assert 'placeholder="86400 si vide"' in page
