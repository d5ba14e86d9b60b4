"""The public pages (controller/public_places/web.py): no sign-in, the nine languages with their
direction, a 404 in the visitor's language for a place that is not public, a clear 400 for a bad
position or language, the nearest open first, the live state as JSON, and the map's settings."""

from __future__ import annotations

import re

import pytest

from borne.settings import ImproperlyConfigured
from captive_portal.i18n import LANGUAGES
from controller.config import ControllerSettings
from tests.factories import make_site

GRENETTE = {"lat": "45.1885", "lon": "5.7245"}


@pytest.fixture
def places(db):
    return {
        "near": make_site(
            db, name="Near library", latitude=45.189, longitude=5.725, opening_hours="24/7"
        ),
        "far": make_site(
            db, name="Far library", latitude=45.25, longitude=5.80, opening_hours="24/7"
        ),
        "hidden": make_site(db, name="Staff office", public=False),
    }


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.code)
def test_the_list_needs_no_sign_in_and_speaks_each_language(client, places, language):
    response = client.get(f"/places?lang={language.code}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<html lang="{language.code}" dir="{language.direction}">' in page
    assert "Near library" in page and "Staff office" not in page
    assert response.headers["Content-Language"] == language.code


def test_the_browser_language_is_used_without_lang(client, places):
    page = client.get("/places", headers={"Accept-Language": "uk-UA,uk;q=0.9"}).get_data(
        as_text=True
    )

    assert '<html lang="uk" dir="ltr">' in page and "Мова" in page


def test_a_place_has_its_page_and_a_hidden_one_is_not_found_in_the_visitors_language(
    client, places
):
    shown = client.get(f"/places/{places['near'].slug}?lang=es")
    hidden = client.get(f"/places/{places['hidden'].slug}?lang=tr")
    unknown = client.get("/places/no-such-place?lang=ar")

    assert shown.status_code == 200 and "Near library" in shown.get_data(as_text=True)
    assert hidden.status_code == 404
    assert "Bu adreste herkese açık bir yer yok." in hidden.get_data(as_text=True)  # noqa: RUF001
    assert unknown.status_code == 404 and 'dir="rtl"' in unknown.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("lat=45.2", "Give both lat and lon"),
        ("lat=abc&lon=5.7", "lat must be a number of degrees between -90 and 90"),
        ("lat=45.2&lon=500", "lon must be a number of degrees between -180 and 180"),
        ("lang=xx", "There is no page in the language"),
    ],
)
def test_bad_input_is_a_400_that_says_what_is_wrong(client, places, query, said):
    response = client.get(f"/places?{query}")

    assert response.status_code == 400
    assert said in response.get_data(as_text=True)


def test_a_shared_position_puts_the_nearest_open_place_first(client, places):
    near_first = client.get("/places", query_string={**GRENETTE, "lang": "en"}).get_data(
        as_text=True
    )
    by_name = client.get("/places?lang=en").get_data(as_text=True)

    def order(page: str) -> list[str]:
        return [
            n
            for n in re.findall(r"<bdi>(\w+ library)</bdi>", page)
            if n in ("Near library", "Far library")
        ]

    assert order(near_first) == ["Near library", "Far library"]
    assert order(by_name) == ["Far library", "Near library"]
    assert "m away" in near_first


def test_the_live_state_is_json_that_may_be_cached(client, places):
    response = client.get("/places/state.json?lang=fr")

    assert response.status_code == 200
    near = response.json["places"][places["near"].slug]
    assert near["open"] is True and near["hours"] == "Ouvert maintenant, jour et nuit"
    assert (near["pcs"], near["pcs_total"], near["wifi"]) == (None, 0, None)
    assert places["hidden"].slug not in response.json["places"]
    assert response.cache_control.public and response.cache_control.max_age == 15


def test_the_map_is_set_from_configuration(make_app, places):
    with_map = make_app(public_map_tiles="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    without = make_app(public_map_tiles="")

    shown = with_map.test_client().get("/places")
    assert 'data-tiles="https://{s}.tiles.example.org/{z}/{x}/{y}.png"' in shown.get_data(
        as_text=True
    )
    assert (
        "img-src 'self' data: https://*.tiles.example.org;"
        in shown.headers["Content-Security-Policy"]
    )
    plain = without.test_client().get("/places")
    assert 'id="map"' not in plain.get_data(as_text=True) and "Near library" in plain.get_data(
        as_text=True
    )
    assert "leaflet" not in plain.get_data(as_text=True)


@pytest.mark.parametrize(
    "tiles",
    [
        "tile.example.org/{z}/{x}/{y}.png",
        "https://tile.example.org/{z}/{x}.png",
        "https://a b/{z}/{x}/{y}",
    ],
)
def test_a_bad_tile_url_is_refused_at_start(tiles):
    with pytest.raises(ImproperlyConfigured, match="public_map_tiles must be a tile URL template"):
        ControllerSettings(public_map_tiles=tiles)


def test_tiles_need_an_attribution():
    with pytest.raises(ImproperlyConfigured, match="public_map_attribution"):
        ControllerSettings(public_map_attribution=" ")
