"""The "closed" page points at the nearest public places open now (or opening next), worked out
on the gateway from their OpenStreetMap hours (captive_portal/nearby.py), as the controller sends
them through the hotspot's agent (``portal_nearby_places`` and ``portal_places_url``)."""

from __future__ import annotations

import msgspec
import pytest

from agent.hotspot import hand_over_portal_settings
from agent.protocol import UpdateConfigArgs
from borne.settings import ImproperlyConfigured
from captive_portal import nearby
from captive_portal.managed import ManagedSettingsWatch, NearbyPlace
from tests.captive_portal.portal_app import TUESDAY_10H, make_portal, portal_settings

# Now: Tuesday 10:00 in Grenoble; the hotspot itself opens at 14:00.
LIBRARY = NearbyPlace(
    "Bibliothèque Centre-Ville", "10 rue de la République", "Tu-Sa 09:00-18:00", 1234
)
MDH = NearbyPlace("Maison des Habitants", "2 rue Pierre Dupont", "Mo-Fr 08:00-12:00", 400)
TOMORROW = NearbyPlace("Bibliothèque Abbaye", "1 rue de la Bajatière", "We 10:00-18:00", 300)
SUNDAY = NearbyPlace("Marché", "", "Su 08:00-12:00", 200)
BROKEN = NearbyPlace("Lieu aux horaires illisibles", "", "lundi 10h-12h", 100)


def test_open_places_come_first_nearest_first_then_the_next_to_open():
    shown = nearby.open_or_next(
        (LIBRARY, MDH, TOMORROW, SUNDAY, BROKEN), TUESDAY_10H, "Europe/Paris", "FR"
    )

    assert [s.place.name for s in shown] == [MDH.name, LIBRARY.name, TOMORROW.name]
    assert shown[0].open and shown[0].until is not None
    assert not shown[2].open and shown[2].opens is not None


def test_the_closed_page_lists_them_with_hours_distance_and_a_link(tmp_path):
    portal = make_portal(
        tmp_path,
        opening_hours="Tu-Sa 14:00-18:00",
        nearby_places=[msgspec.structs.asdict(p) for p in (LIBRARY, MDH, TOMORROW, SUNDAY)],
        places_url="https://borne.example.org/places",
    )

    english = portal.client.get("/?lang=en").get_data(as_text=True)
    french = portal.client.get("/?lang=fr").get_data(as_text=True)

    assert "Other places near here" in english
    assert "Bibliothèque Centre-Ville" in english and "Open now, until 6:00\u202fPM" in english
    assert "1.2 km away" in english and "300 m away" in english
    assert "Opens on Wednesday, November 25, 2026 at 10:00\u202fAM" in english
    assert "Marché" not in english  # three at most
    assert 'href="https://borne.example.org/places?lang=en"' in english
    assert "Ouvert maintenant, jusqu&#39;à 18:00" in french and "À 1,2 km" in french


def test_without_nearby_places_the_closed_page_is_as_before(tmp_path):
    portal = make_portal(tmp_path, mode="closed")

    page = portal.client.get("/?lang=en").get_data(as_text=True)

    assert "The wifi is closed now" in page and "Other places near here" not in page


def test_what_the_controller_sends_reaches_the_closed_page(tmp_path):
    portal = make_portal(tmp_path, opening_hours="Tu-Sa 14:00-18:00")
    sent = msgspec.convert(
        {
            "portal_mode": "click",
            "portal_opening_hours": "Tu-Sa 14:00-18:00",
            "portal_nearby_places": [msgspec.structs.asdict(LIBRARY)],
            "portal_places_url": "https://borne.example.org/places",
            "portal_revision": 2,
        },
        UpdateConfigArgs,
    )

    assert hand_over_portal_settings(portal.settings.state_dir, sent)
    watch = ManagedSettingsWatch(
        portal.settings, portal.app.extensions["borne_portal"].admission.reconfigure
    )
    assert watch.check()

    page = portal.client.get("/?lang=en").get_data(as_text=True)
    assert "Bibliothèque Centre-Ville" in page and "borne.example.org/places" in page


def test_a_place_without_a_name_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="nearby_places"):
        portal_settings(tmp_path, nearby_places=[{"address": "somewhere"}])
    with pytest.raises(ImproperlyConfigured, match="places_url"):
        portal_settings(tmp_path, places_url="borne.example.org/places")
