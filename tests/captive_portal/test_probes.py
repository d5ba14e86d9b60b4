"""OS connectivity checks: sent to the portal before the tap, told "online" after it."""

from __future__ import annotations

import pytest

from tests.captive_portal.portal_app import SPLASH_URL, make_portal

# (host the OS asks, path, status after the tap, exact body after the tap)
PROBES = [
    ("connectivitycheck.gstatic.com", "/generate_204", 204, ""),
    ("clients3.google.com", "/generate_204", 204, ""),
    ("www.google.com", "/gen_204", 204, ""),
    (
        "captive.apple.com",
        "/hotspot-detect.html",
        200,
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    ),
    (
        "www.apple.com",
        "/library/test/success.html",
        200,
        "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>",
    ),
    ("www.msftconnecttest.com", "/connecttest.txt", 200, "Microsoft Connect Test"),
    ("www.msftncsi.com", "/ncsi.txt", 200, "Microsoft NCSI"),
    ("detectportal.firefox.com", "/success.txt", 200, "success\n"),
    (
        "detectportal.firefox.com",
        "/canonical.html",
        200,
        '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>',
    ),
]
IDS = [f"{host}{path}" for host, path, _, _ in PROBES]


@pytest.mark.parametrize(("host", "path", "status", "body"), PROBES, ids=IDS)
def test_before_the_tap_a_probe_is_sent_to_the_splash_page(tmp_path, host, path, status, body):
    portal = make_portal(tmp_path)

    answer = portal.client.get(path, base_url=f"http://{host}")

    assert answer.status_code == 302
    assert answer.headers["Location"] == SPLASH_URL
    assert answer.get_data(as_text=True) != body


@pytest.mark.parametrize(("host", "path", "status", "body"), PROBES, ids=IDS)
def test_after_the_tap_a_probe_gets_the_exact_success_answer(tmp_path, host, path, status, body):
    portal = make_portal(tmp_path)
    portal.tap_connect()

    answer = portal.client.get(path, base_url=f"http://{host}")

    assert answer.status_code == status
    assert answer.get_data(as_text=True) == body
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_probe_is_captive_again_once_the_session_has_expired(tmp_path):
    portal = make_portal(tmp_path, session_s=600)
    portal.tap_connect()
    portal.clock.advance(seconds=601)

    answer = portal.client.get("/generate_204", base_url="http://connectivitycheck.gstatic.com")

    assert answer.status_code == 302


def test_the_windows_sign_in_page_is_the_splash_page(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.get("/redirect", base_url="http://www.msftconnecttest.com")

    assert answer.status_code == 302
    assert answer.headers["Location"] == SPLASH_URL


def test_a_probe_answers_only_for_the_client_that_tapped(tmp_path):
    portal = make_portal(tmp_path)
    portal.tap_connect("10.42.0.50")

    other = portal.client.get(
        "/hotspot-detect.html",
        base_url="http://captive.apple.com",
        environ_overrides={"REMOTE_ADDR": "10.42.0.51"},
    )

    assert other.status_code == 302
