"""When the site last closed (agent/kiosk/hours.py), from its OpenStreetMap opening hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.kiosk.hours import SiteHours

PARIS_SUMMER_CLOSING = datetime(2025, 7, 1, 16, 0, tzinfo=UTC)  # 18:00 in Paris (UTC+2)


def test_while_open_the_site_has_not_closed() -> None:
    hours = SiteHours("Mo-Sa 09:00-18:00", "Europe/Paris")

    assert hours.closed_since(datetime(2025, 7, 1, 15, 59, tzinfo=UTC)) is None


def test_once_closed_it_says_when_in_local_time_across_the_night() -> None:
    hours = SiteHours("Mo-Sa 09:00-18:00", "Europe/Paris")

    evening = hours.closed_since(datetime(2025, 7, 1, 16, 1, tzinfo=UTC))
    night = hours.closed_since(datetime(2025, 7, 2, 3, 0, tzinfo=UTC))

    assert evening == night == PARIS_SUMMER_CLOSING


def test_a_public_holiday_off_is_closed_since_the_day_before() -> None:
    hours = SiteHours("Mo-Sa 09:00-18:00; PH off", "Europe/Paris", "FR")

    bastille_day = hours.closed_since(datetime(2025, 7, 14, 10, 0, tzinfo=UTC))

    assert bastille_day == datetime(2025, 7, 12, 16, 0, tzinfo=UTC)  # Saturday 18:00


def test_unknown_hours_count_as_closed() -> None:
    hours = SiteHours("Mo-Sa 09:00-12:00 open, 14:00-18:00 unknown", "Europe/Paris")

    assert hours.closed_since(datetime(2025, 7, 1, 13, 0, tzinfo=UTC)) == datetime(
        2025, 7, 1, 10, 0, tzinfo=UTC
    )


def test_a_site_that_never_closes_has_no_closing() -> None:
    assert SiteHours("", "Europe/Paris").closed_since(PARIS_SUMMER_CLOSING) is None
    assert SiteHours("24/7", "Europe/Paris").closed_since(PARIS_SUMMER_CLOSING) is None


@pytest.mark.parametrize(
    ("expression", "timezone", "message"),
    [
        ("Mo-Sa 9h-18h", "Europe/Paris", "is not OpenStreetMap syntax"),
        ("Mo-Sa 09:00-18:00", "Europe/Grenoble", "site_timezone must be a time zone"),
    ],
)
def test_hours_that_do_not_parse_say_so(expression: str, timezone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SiteHours(expression, timezone)
