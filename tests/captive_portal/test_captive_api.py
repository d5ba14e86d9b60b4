"""RFC 8908's Captive Portal API at /api/captive."""

from __future__ import annotations

from tests.captive_portal.portal_app import make_portal


def status_of(portal, host="10.42.0.1:8080", scheme="http"):
    return portal.client.get("/api/captive", base_url=f"{scheme}://{host}")


def test_a_client_before_the_tap_is_captive_with_the_https_portal_url(tmp_path):
    portal = make_portal(
        tmp_path,
        hostname="portail.wifi.local",
        https_port=8443,
        tls_cert=str(tmp_path / "cert.pem"),
        tls_key=str(tmp_path / "key.pem"),
    )

    answer = status_of(portal, "portail.wifi.local:8443", "https")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/captive+json"
    assert answer.headers["Cache-Control"] == "private"
    assert answer.get_json() == {
        "captive": True,
        "user-portal-url": "https://portail.wifi.local:8443/",
        "can-extend-session": False,
    }


def test_the_default_https_port_is_left_out_of_the_portal_url(tmp_path):
    portal = make_portal(
        tmp_path, https_port=443, tls_cert=str(tmp_path / "c"), tls_key=str(tmp_path / "k")
    )

    assert status_of(portal).get_json()["user-portal-url"] == "https://portail.wifi.local/"


def test_after_the_tap_the_client_is_not_captive_and_sees_its_time_run_down(tmp_path):
    portal = make_portal(tmp_path, session_s=3600)
    portal.tap_connect()

    first = status_of(portal).get_json()
    portal.clock.advance(minutes=10)
    later = status_of(portal).get_json()

    assert first["captive"] is False
    assert first["seconds-remaining"] == 3600
    assert later["seconds-remaining"] == 3000


def test_a_client_online_is_not_told_to_open_the_portal_to_extend(tmp_path):
    # Its page says until when, with nothing to tap: an OS must not offer it to extend.
    portal = make_portal(tmp_path)
    portal.tap_connect()

    assert status_of(portal).get_json()["can-extend-session"] is False


def test_seconds_remaining_is_left_out_for_a_captive_client(tmp_path):
    portal = make_portal(tmp_path, session_s=600)
    portal.tap_connect()
    portal.clock.advance(seconds=600)

    body = status_of(portal).get_json()

    assert body["captive"] is True
    assert "seconds-remaining" not in body


def test_the_api_answers_on_any_host_name_and_over_both_schemes(tmp_path):
    portal = make_portal(tmp_path)

    for host, scheme in [
        ("portail.wifi.local", "https"),
        ("10.42.0.1:8080", "http"),
        ("captive.example", "http"),
    ]:
        assert status_of(portal, host, scheme).status_code == 200


def test_without_tls_the_portal_url_is_the_http_splash_page(tmp_path):
    portal = make_portal(tmp_path)

    assert status_of(portal).get_json()["user-portal-url"] == "http://10.42.0.1:8080/"


def test_a_closed_portal_cannot_extend_sessions(tmp_path):
    portal = make_portal(tmp_path, mode="closed")

    body = status_of(portal).get_json()

    assert body["captive"] is True
    assert body["can-extend-session"] is False
