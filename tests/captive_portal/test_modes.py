"""The three modes: click (default), code (code of the day or a printed voucher), closed."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from borne.settings import ImproperlyConfigured
from captive_portal.cli import portal as portal_command
from captive_portal.codes import code_of_the_day, display_code, normalise_code
from captive_portal.vouchers import VoucherBook, vouchers
from tests.captive_portal.portal_app import TUESDAY_10H, make_portal

SECRET = "a secret only the city knows"
TUESDAY = date(2026, 11, 24)


def code_portal(tmp_path, **overrides):
    return make_portal(tmp_path, mode="code", code_secret=SECRET, **overrides)


# --- code mode -------------------------------------------------------------------------------


def test_code_mode_asks_for_a_labelled_code(tmp_path):
    portal = code_portal(tmp_path)

    html = portal.client.get("/?lang=en").get_data(as_text=True)

    assert '<label for="code">Code</label>' in html
    assert 'id="code" name="code"' in html
    assert 'inputmode="numeric"' in html


@pytest.mark.parametrize(
    ("mode", "headline"),
    [
        ("click", "Go online for free, in one tap"),
        ("code", "Type the code to go online for free"),
        ("closed", "The wifi is closed now"),
    ],
)
def test_the_headline_says_what_the_mode_asks(tmp_path, mode, headline):
    portal = make_portal(tmp_path, mode=mode, code_secret=SECRET)

    html = portal.client.get("/?lang=en").get_data(as_text=True)

    assert re.search(r"<h1[^>]*>(?:<svg.*?</svg>)?([^<]*)</h1>", html)[1] == headline
    assert ("in one tap" in html) == (mode == "click")


def test_a_wrong_code_stays_in_the_field_to_be_checked(tmp_path):
    portal = code_portal(tmp_path)
    wrong = display_code(code_of_the_day(SECRET, date(2026, 11, 23)))  # yesterday's

    answer = portal.client.post("/connect?lang=en", data={"accept": "1", "code": wrong})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert f'aria-invalid="true" value="{wrong}">' in html


def test_what_was_typed_comes_back_escaped_and_no_longer_than_the_field(tmp_path):
    portal = code_portal(tmp_path)

    answer = portal.client.post(
        "/connect?lang=en", data={"accept": "1", "code": '12"><b>3' + "9" * 40}
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 403
    assert 'value="12&#34;&gt;&lt;b&gt;3' + "9" * 24 + '">' in html
    assert "<b>" not in html


def test_the_code_of_the_day_lets_the_client_out(tmp_path):
    portal = code_portal(tmp_path)

    answer = portal.tap_connect(code=display_code(code_of_the_day(SECRET, TUESDAY)))

    assert answer.status_code == 303
    assert portal.remaining() is not None


def test_the_code_of_the_day_may_be_typed_with_arabic_digits(tmp_path):
    portal = code_portal(tmp_path)
    arabic = "".join("٠١٢٣٤٥٦٧٨٩"[int(d)] for d in code_of_the_day(SECRET, TUESDAY))

    assert portal.tap_connect(code=arabic).status_code == 303


def test_yesterdays_code_no_longer_works(tmp_path):
    portal = code_portal(tmp_path)
    yesterday = code_of_the_day(SECRET, date(2026, 11, 23))

    answer = portal.client.post("/connect?lang=en", data={"accept": "1", "code": yesterday})

    assert answer.status_code == 403
    assert "This code does not work" in answer.get_data(as_text=True)
    assert portal.remaining() is None


def test_codes_of_the_day_differ_from_day_to_day_and_are_six_digits():
    codes = {code_of_the_day(SECRET, date(2026, 11, day)) for day in range(1, 31)}

    assert len(codes) >= 29
    assert all(len(c) == 6 and c.isdigit() for c in codes)


def test_an_empty_code_asks_to_type_it(tmp_path):
    portal = code_portal(tmp_path)

    answer = portal.client.post("/connect?lang=en", data={"accept": "1", "code": ""})

    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Type the code, then tap Connect." in html
    assert 'aria-invalid="true"' in html


@pytest.mark.parametrize("typed", ["12345", "abcdef", "1234567", "1" * 40, "12 34 5x"])
def test_what_cannot_be_a_code_is_refused(typed):
    assert normalise_code(typed) is None


def test_a_printed_voucher_works_once(tmp_path):
    portal = code_portal(tmp_path)
    book = VoucherBook(portal.settings.state_dir, SECRET)
    (voucher,) = book.issue(1, TUESDAY)

    first = portal.tap_connect("10.42.0.30", code=display_code(voucher))
    second = portal.tap_connect("10.42.0.31", code=voucher)

    assert first.status_code == 303
    assert second.status_code == 403


def test_a_voucher_is_valid_only_on_the_day_it_was_printed(tmp_path):
    portal = code_portal(tmp_path)
    (voucher,) = VoucherBook(portal.settings.state_dir, SECRET).issue(1, TUESDAY)
    portal.clock.advance(days=1)

    assert portal.tap_connect(code=voucher).status_code == 403


def test_vouchers_are_stored_hashed(tmp_path):
    book = VoucherBook(tmp_path, SECRET)

    codes = book.issue(5, TUESDAY)

    stored = (tmp_path / "tickets.json").read_text()
    assert all(code not in stored for code in codes)
    assert len(json.loads(stored)["tickets"]) == 5
    assert (tmp_path / "tickets.json").stat().st_mode & 0o777 == 0o600


def test_a_voucher_is_not_used_up_when_the_hotspot_is_full(tmp_path):
    portal = code_portal(tmp_path, max_clients=1)
    (voucher,) = VoucherBook(portal.settings.state_dir, SECRET).issue(1, TUESDAY)
    portal.tap_connect("10.42.0.40", code=code_of_the_day(SECRET, TUESDAY))

    assert portal.tap_connect("10.42.0.41", code=voucher).status_code == 503
    portal.access.revoke(ipaddress.ip_address("10.42.0.40"))
    portal.clock.advance(seconds=2)  # a full hotspot counts again at most once a second
    assert portal.tap_connect("10.42.0.41", code=voucher).status_code == 303


def test_the_vouchers_command_prints_codes_that_the_portal_accepts(tmp_path):
    config = tmp_path / "portal.toml"
    config.write_text(
        f'[portal]\nmode = "code"\ncode_secret = "{SECRET}"\nstate_dir = "{tmp_path / "state"}"\n'
        'enforcement = "memory"\n'
    )

    result = CliRunner().invoke(vouchers, ["--config", str(config), "--count", "3", "--today"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    printed = [line for line in lines if normalise_code(line) and len(normalise_code(line)) == 8]
    assert len(printed) == 3
    assert "Code of the day" in result.output


def test_the_vouchers_command_needs_a_secret(tmp_path):
    config = tmp_path / "portal.toml"
    config.write_text(f'[portal]\nstate_dir = "{tmp_path}"\n')

    result = CliRunner().invoke(vouchers, ["--config", str(config), "--count", "1"])

    assert result.exit_code != 0
    assert "code_secret" in result.output


def test_the_vouchers_command_answers_to_its_first_name_tickets_out_of_the_help(tmp_path):
    config = tmp_path / "portal.toml"
    config.write_text(f'[portal]\ncode_secret = "{SECRET}"\nstate_dir = "{tmp_path}"\n')

    listed = CliRunner().invoke(portal_command, ["--help"])
    old_name = CliRunner().invoke(portal_command, ["tickets", "--config", str(config), "--today"])

    assert "vouchers" in listed.output and "tickets" not in listed.output
    assert old_name.exit_code == 0, old_name.output
    assert "Code of the day" in old_name.output


# --- closed ----------------------------------------------------------------------------------


def test_closed_mode_shows_a_closed_page_and_lets_nobody_out(tmp_path):
    portal = make_portal(tmp_path, mode="closed")

    page = portal.client.get("/?lang=en")
    tap = portal.tap_connect()

    assert "The wifi is closed now" in page.get_data(as_text=True)
    assert "<button" not in page.get_data(as_text=True)
    assert tap.status_code == 403
    assert portal.remaining() is None


@pytest.mark.parametrize(
    ("hours", "lang", "expected"),
    [
        ("Tu-Sa 14:00-18:00", "en", "It opens again today at 2:00\u202fPM."),
        ("We-Sa 10:00-18:00", "fr", "Il rouvre demain à 10:00."),
        ("Fr 10:00-12:00", "fr", "Il rouvre le vendredi 27 novembre 2026 à 10:00."),
        ("Fr 10:00-12:00", "es", "Vuelve a abrir el viernes, 27 de noviembre de 2026 a las 10:00."),
    ],
)
def test_outside_opening_hours_the_next_opening_is_shown(tmp_path, hours, lang, expected):
    portal = make_portal(tmp_path, opening_hours=hours)  # now: Tuesday 10:00

    page = portal.client.get(f"/?lang={lang}")

    assert expected in page.get_data(as_text=True)
    assert portal.tap_connect().status_code == 403


def test_the_next_opening_is_written_in_arabic_for_an_arabic_reader(tmp_path):
    portal = make_portal(tmp_path, opening_hours="Fr 10:00-12:00")

    html = portal.client.get("/?lang=ar").get_data(as_text=True)

    assert "يفتح من جديد يوم" in html
    assert "الجمعة" in html  # Friday


def test_within_opening_hours_the_portal_is_open(tmp_path):
    portal = make_portal(tmp_path, opening_hours="Mo-Sa 09:00-18:00")

    assert portal.tap_connect().status_code == 303


def test_the_portal_closes_when_the_hours_end(tmp_path):
    portal = make_portal(tmp_path, opening_hours="Tu 09:00-10:30")
    portal.clock.advance(minutes=31)

    assert portal.tap_connect().status_code == 403


def test_bad_opening_hours_fail_at_start_naming_the_setting(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="opening_hours"):
        make_portal(tmp_path, opening_hours="lundi 10h-18h")


def test_the_clock_of_the_fixture_is_a_tuesday_morning_in_grenoble():
    assert TUESDAY_10H.astimezone(ZoneInfo("Europe/Paris")).hour == 10
