"""Abuse: too many taps, too many clients, and malformed requests get a 4xx page, never a 500."""

from __future__ import annotations

import pytest

from tests.captive_portal.portal_app import make_portal


def test_tapping_too_fast_is_refused_with_a_friendly_429(tmp_path):
    portal = make_portal(tmp_path, connects_per_minute=3)
    for _ in range(3):
        assert portal.tap_connect().status_code == 303

    answer = portal.client.post("/connect?lang=en", data={"accept": "1"})

    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) <= 60
    assert "Wait one minute" in answer.get_data(as_text=True)


def test_the_limit_is_per_client_and_lifts_after_a_minute(tmp_path):
    portal = make_portal(tmp_path, connects_per_minute=2)
    portal.tap_connect()
    portal.tap_connect()

    assert portal.tap_connect().status_code == 429
    assert portal.tap_connect("10.42.0.99").status_code == 303  # another device is not punished
    portal.clock.advance(seconds=61)
    assert portal.tap_connect().status_code == 303


def test_code_guesses_are_limited_too(tmp_path):
    portal = make_portal(tmp_path, mode="code", code_secret="s", connects_per_minute=5)

    statuses = [portal.tap_connect(code=f"{n:06d}").status_code for n in range(8)]

    assert statuses[:5].count(429) == 0
    assert statuses[5:] == [429, 429, 429]


def test_the_client_after_the_cap_gets_a_friendly_503(tmp_path):
    portal = make_portal(tmp_path, max_clients=2)
    portal.tap_connect("10.42.0.30")
    portal.tap_connect("10.42.0.31")

    answer = portal.client.post(
        "/connect?lang=en",
        data={"accept": "1"},
        environ_overrides={"REMOTE_ADDR": "10.42.0.32"},
    )

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "300"
    assert "Try again in a few minutes" in answer.get_data(as_text=True)
    assert portal.remaining("10.42.0.32") is None


def test_a_client_already_online_may_renew_when_the_hotspot_is_full(tmp_path):
    portal = make_portal(tmp_path, max_clients=1)
    portal.tap_connect("10.42.0.30")

    assert portal.tap_connect("10.42.0.30").status_code == 303


def test_room_comes_back_when_a_session_expires(tmp_path):
    portal = make_portal(tmp_path, max_clients=1, session_s=600)
    portal.tap_connect("10.42.0.30")
    portal.clock.advance(seconds=601)

    assert portal.tap_connect("10.42.0.31").status_code == 303


@pytest.mark.parametrize(
    "form", [{}, {"accept": "0"}, {"accept": "yes"}, {"code": "123456"}], ids=repr
)
def test_a_form_without_accept_1_is_a_400(tmp_path, form):
    portal = make_portal(tmp_path)

    answer = portal.client.post("/connect", data=form)

    assert answer.status_code == 400
    assert portal.remaining() is None


def test_an_oversize_body_is_a_413(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.post("/connect", data={"accept": "1", "junk": "x" * 100_000})

    assert answer.status_code == 413
    assert portal.remaining() is None


def test_undecodable_form_bytes_are_not_a_500(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.post(
        "/connect",
        data=b"accept=1&code=%ff%fe\xff",
        content_type="application/x-www-form-urlencoded",
    )

    assert answer.status_code < 500


def test_a_broken_multipart_body_is_a_400(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.post(
        "/connect", data=b"--x\r\nnot a part", content_type="multipart/form-data; boundary=x"
    )

    assert answer.status_code == 400


@pytest.mark.parametrize("host", ["bad host", "exa_mple.org", "a..b", "10.42.0.1:99999", "é.fr"])
def test_a_malformed_host_is_a_400(tmp_path, host):
    portal = make_portal(tmp_path)

    answer = portal.client.get("/", headers={"Host": host})

    assert answer.status_code == 400


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "BREW"])
def test_an_unknown_method_is_a_405(tmp_path, method):
    portal = make_portal(tmp_path)

    answer = portal.client.open("/", method=method)

    assert answer.status_code == 405
    assert "<h1" in answer.get_data(as_text=True)


def test_connect_by_get_is_a_405_and_lets_nobody_out(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.get("/connect?accept=1")

    assert answer.status_code == 405
    assert portal.remaining() is None


def test_a_client_address_that_is_not_an_address_is_a_400(tmp_path):
    portal = make_portal(tmp_path)

    answer = portal.client.get("/", environ_overrides={"REMOTE_ADDR": "not-an-ip"})

    assert answer.status_code == 400


def test_an_ipv4_client_on_a_dual_stack_socket_is_granted_as_ipv4(tmp_path):
    portal = make_portal(tmp_path)

    portal.tap_connect("::ffff:10.42.0.23")

    assert portal.remaining("10.42.0.23") is not None


def test_code_guesses_are_limited_per_hotspot_not_only_per_address(tmp_path):
    portal = make_portal(tmp_path, mode="code", code_secret="s3cret", connects_per_minute=5)
    answers = [
        portal.tap_connect(f"2001:db8:42::{n:x}", code="000001").status_code
        for n in range(1, 80)  # a device changing its address for every guess
    ]

    assert 429 in answers
    assert answers.count(429) >= 79 - 60
