"""The splash page, the tap on Connect and the redirect of foreign hosts (Flask test client)."""

from __future__ import annotations

import re

import pytest

from borne.settings import ImproperlyConfigured
from captive_portal.server import create_portal_app
from tests.captive_portal.portal_app import (
    RESIDENT,
    SPLASH_URL,
    make_portal,
    portal_settings,
)


def test_splash_page_has_one_button_and_nothing_to_type(tmp_path):
    portal = make_portal(tmp_path)

    page = portal.client.get("/", headers={"Accept-Language": "en"})

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count("<button") == 1
    assert "Connect</button>" in html
    visible_inputs = re.findall(r"<input(?![^>]*type=\"hidden\")", html)
    assert visible_inputs == []
    assert "no name, no email, no phone" in html
    assert "You are online for 4 hours" in html  # session_s, in words


def test_tap_on_connect_lets_the_client_out_for_the_session(tmp_path):
    portal = make_portal(tmp_path, session_s=3600)

    answer = portal.tap_connect()

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/online"
    assert portal.remaining() == 3600
    assert portal.remaining("10.42.0.99") is None  # nobody else


def test_online_page_says_until_when(tmp_path):
    portal = make_portal(tmp_path, session_s=2 * 3600)  # 10:00 in Grenoble
    portal.tap_connect()

    page = portal.client.get("/online", headers={"Accept-Language": "en"})

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1" in html and "You are online</h1>" in html
    assert "until 12:00" in html


def test_back_on_the_start_page_once_online_it_says_until_when_with_nothing_to_tap(tmp_path):
    portal = make_portal(tmp_path, session_s=6 * 3600 + 35 * 60)  # 10:00 in Grenoble
    portal.tap_connect()
    portal.clock.advance(minutes=20)

    page = portal.client.get("/", headers={"Accept-Language": "fr"})

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Vous êtes en ligne jusqu\u2019à 16:35</h1>" in html
    assert "<button" not in html and "<form" not in html and "<input" not in html


def test_once_the_session_has_ended_the_start_page_offers_connect_again(tmp_path):
    portal = make_portal(tmp_path, session_s=3600)
    portal.tap_connect()
    portal.clock.advance(hours=1, seconds=1)

    html = portal.client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert "Connect</button>" in html
    assert "You are online until" not in html


def test_the_start_page_says_in_plain_words_why_websites_do_not_open_yet(tmp_path):
    portal = make_portal(tmp_path)

    html = portal.client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert "Before you tap Connect, most websites do not open: you see an error." in html
    assert "After you tap Connect, they all open." in html
    # The address that always brings the page back, kept left to right in Arabic and Dari.
    assert f"type \u2066{SPLASH_URL}\u2069 in your browser." in html
    assert "check that the website&#39;s address starts with https." in html


def test_online_page_sends_a_client_not_yet_online_back_to_the_start(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.get("/online")

    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


def test_a_second_tap_renews_the_session(tmp_path):
    portal = make_portal(tmp_path, session_s=3600)
    portal.tap_connect()
    portal.clock.advance(minutes=50)

    portal.tap_connect()

    assert portal.remaining() == 3600


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_any_foreign_host_is_sent_to_the_splash_page(tmp_path, method):
    portal = make_portal(tmp_path)

    answer = portal.client.open(
        "/some/news/article?id=3", method=method, base_url="http://example.org"
    )

    assert answer.status_code == 302
    assert answer.headers["Location"] == SPLASH_URL


def test_the_portal_answers_on_its_hostname_and_its_address(tmp_path):
    portal = make_portal(tmp_path, hostname="portail.wifi.local")

    by_name = portal.client.get("/", base_url="http://portail.wifi.local:8080")
    by_address = portal.client.get("/", base_url="http://10.42.0.1")

    assert by_name.status_code == 200
    assert by_address.status_code == 200


def test_an_unknown_page_on_the_portal_is_a_friendly_404(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.get("/admin", headers={"Accept-Language": "fr"})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 404
    assert "Cette page n\u2019existe pas" in html  # a typographic apostrophe
    assert 'href="/"' in html


def test_pages_are_never_cached_and_load_nothing_from_elsewhere(tmp_path):
    portal = make_portal(tmp_path)

    page = portal.client.get("/")

    assert page.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert "<script" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no external asset


def test_the_splash_page_weighs_under_30_kb_in_every_language(tmp_path):
    portal = make_portal(tmp_path)

    for code in ("fr", "en", "ar", "es", "tr", "pt"):
        page = portal.client.get(f"/?lang={code}")
        assert len(page.data) < 30 * 1024, code


def test_a_bad_default_language_fails_at_start_naming_the_setting(tmp_path):
    settings = portal_settings(tmp_path, default_language="xx")

    with pytest.raises(ImproperlyConfigured, match="default_language"):
        create_portal_app(settings)


def test_memory_enforcement_builds_its_own_access_list(tmp_path):
    app = create_portal_app(portal_settings(tmp_path))
    client = app.test_client()

    answer = client.post(
        "/connect",
        data={"accept": "1"},
        base_url="http://10.42.0.1:8080",
        environ_overrides={"REMOTE_ADDR": RESIDENT},
    )

    assert answer.status_code == 303
    status = client.get(
        "/api/captive",
        base_url="http://10.42.0.1:8080",
        environ_overrides={"REMOTE_ADDR": RESIDENT},
    )
    assert status.get_json()["captive"] is False


def test_one_tap_lets_a_dual_stack_phone_out_on_ipv4_and_ipv6(tmp_path):
    portal = make_portal(tmp_path, client_subnet6="2001:db8:42::/64")
    phone = "3c:52:82:1a:2b:3c"
    portal.neighbours.macs.update(
        {
            RESIDENT: phone,
            "2001:db8:42::23": phone,
            "2001:db8:99::5": phone,  # not a client network: never granted
            "10.42.0.24": "aa:bb:cc:dd:ee:ff",  # someone else
        }
    )

    portal.tap_connect()

    assert portal.remaining() is not None
    assert portal.remaining("2001:db8:42::23") is not None
    assert portal.remaining("2001:db8:99::5") is None
    assert portal.remaining("10.42.0.24") is None


def test_the_gateways_ipv6_address_is_the_portal_not_a_foreign_host(tmp_path):
    portal = make_portal(tmp_path, client_subnet6="2001:db8:42::/64")

    page = portal.client.get("/", base_url="http://[2001:db8:42::1]:8080")

    assert page.status_code == 200


def test_one_tap_lets_out_a_few_other_addresses_of_the_device_not_hundreds(tmp_path):
    portal = make_portal(tmp_path, client_subnet6="2001:db8:42::/64")
    device = "3c:52:82:1a:2b:3c"
    portal.neighbours.macs[RESIDENT] = device
    for n in range(1, 301):
        portal.neighbours.macs[f"2001:db8:42::{n:x}"] = device

    portal.tap_connect()

    assert portal.access.count() == 1 + 4
