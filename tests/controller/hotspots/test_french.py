"""A hotspot's "Wifi portal" panel for a browser that asks for French: the code of the day, the
settings, the form and its refusal, in French."""

from __future__ import annotations

from sqlalchemy import select

from agent.protocol import PortalModeName
from controller.access import Role
from controller.commands.models import Command
from tests.controller.testkit import csrf_token, page_text, sign_in, words
from tests.factories import make_hotspot, make_site, make_user

FRENCH = {"Accept-Language": "fr"}


def test_the_portal_panel_reads_in_french(client, db):
    site = make_site(db)
    hotspot = make_hotspot(db, site, name="gw-accueil", mode=PortalModeName.CODE)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.get(f"/devices/{hotspot.id}", headers=FRENCH)
    device_page = words(answer)
    site_page = words(client.get(f"/sites/{site.id}", headers=FRENCH))

    assert "Portail wifi" in device_page and "Code du jour" in device_page
    assert "Comment le public se connecte Code du jour : Le public tape" in device_page
    assert "Un seul clic" in device_page
    assert 'value="Enregistrer et envoyer à la borne wifi"' in page_text(answer)
    assert "Code du jour :" in site_page


def test_a_bad_length_is_refused_in_french(client, db):
    hotspot = make_hotspot(db, mode=PortalModeName.CLICK)
    sign_in(client, make_user(db, Role.ADMIN))

    answer = client.post(
        f"/devices/{hotspot.id}/portal",
        data={
            "mode": "closed",
            "session_min": "5",
            "csrf_token": csrf_token(client, f"/devices/{hotspot.id}"),
        },
        headers=FRENCH,
    )

    assert answer.status_code == 400
    assert "une connexion doit durer entre 15 et 1440 minutes" in page_text(answer)
    assert db.scalars(select(Command)).all() == []
