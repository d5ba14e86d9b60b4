"""Configuration on the staff pages (controller/configuration/web.py): a device's settings in
force with their origin, a layer's form, the difference shown before anything is sent, the
rollout followed device by device, a rollback, the releases of borne an agent upgrade chooses
from; in French as staff read them."""

from __future__ import annotations

from sqlalchemy import select

from agent.protocol import AGENT_FEATURES
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


def test_the_layer_page_shows_the_releases_and_offers_them_to_choose(client, db, release):
    site = make_site(db)
    kept = release("0.2.0")
    release("0.10.0")
    sign_in(client, make_user(db, Role.ADMIN))

    page = client.get(f"/configuration/site/{site.id}", headers=FRENCH)
    html = page.get_data(as_text=True)

    assert "Versions de borne dont dispose le contrôleur" in words(page)
    assert f"sha256 {kept.sha256[:12]}" in words(page) and "ajoutée" in words(page)
    assert "Version de l'agent" in html.replace("&#39;", "'")
    assert '<option value="0.2.0">0.2.0</option>' in html
    assert html.index('value="0.2.0"') < html.index('value="0.10.0"')  # in version order
    assert "non définie (chacun la sienne)" in words(page)


def test_an_agent_upgrade_is_previewed_rolled_out_and_shown_as_such(client, db, release):
    site = make_site(db, name="Médiathèque")
    pc = make_device(
        db,
        site,
        name="pc-1",
        inventory={"agent_version": "0.1.1"},
        agent_features=list(AGENT_FEATURES),
    )
    release("0.2.0")
    sign_in(client, make_user(db, Role.ADMIN))
    layer_url = f"/configuration/site/{site.id}"

    preview = client.post(
        f"{layer_url}/preview",
        data={"agent_version": "0.2.0", "csrf_token": csrf_token(client, layer_url)},
        headers=FRENCH,
    )
    applied = client.post(
        f"{layer_url}/apply",
        data={
            "settings": '{"agent_version": "0.2.0"}',
            "strategy": "now",
            "spread_min": "5",
            "csrf_token": csrf_token(client, layer_url),
        },
        headers=FRENCH,
        follow_redirects=True,
    )
    device_page = client.get(f"/devices/{pc.id}", headers=FRENCH)

    assert "non défini → 0.2.0" in words(preview).replace("&#39;", "'")
    assert "Mise à jour de l'agent vers 0.2.0" in words(applied).replace("&#39;", "'")
    assert db.scalar(select(Command)).args["agent_version"] == "0.2.0"
    device_words = words(device_page).replace("&#39;", "'")
    assert "Version de l'agent 0.2.0 — réglé par le niveau lieu Médiathèque" in device_words
    assert "Version de l'agent qu'il indique 0.1.1 — pas encore la version" in device_words


def test_a_version_without_a_wheel_is_refused_on_the_page(client, db, release):
    site = make_site(db)
    make_device(db, site)
    release("0.2.0")
    sign_in(client, make_user(db, Role.ADMIN))
    layer_url = f"/configuration/site/{site.id}"

    refused = client.post(
        f"{layer_url}/preview",
        data={"agent_version": "0.3.0", "csrf_token": csrf_token(client, layer_url)},
        headers=FRENCH,
    )

    assert refused.status_code == 422
    assert "pas de wheel de borne 0.3.0 (il a 0.2.0)" in words(refused)
    assert db.scalars(select(ConfigLayer)).all() == []


def test_a_device_on_the_release_its_layers_name_shows_no_difference(client, db, release):
    site = make_site(db)
    pc = make_device(db, site, inventory={"agent_version": "0.2.0"})
    release("0.2.0")
    sign_in(client, make_user(db, Role.ADMIN))
    client.put(f"/api/v1/config/site/{site.id}", json={"settings": {"agent_version": "0.2.0"}})

    page = words(client.get(f"/devices/{pc.id}", headers=FRENCH)).replace("&#39;", "'")

    assert "Version de l'agent 0.2.0" in page
    assert "qu'il indique" not in page
