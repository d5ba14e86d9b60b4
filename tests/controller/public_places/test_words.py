"""The public pages' plain words (controller/public_places/words.py), in the page's language:
hours ("open now, until 18:00", "opens Tuesday at 10:00", "closed today (works)"), live state
and distances."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from controller.i18n import use_page_language
from controller.public_places import words
from controller.public_places.service import HoursNow, HoursState, LiveState, WifiState
from tests.controller.public_places.conftest import NOW

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # 10:00 in Grenoble


@pytest.fixture
def speak(app) -> Iterator[object]:
    """``speak("fr")``: the words that follow are in that language."""
    with app.test_request_context("/places"):
        yield use_page_language


def test_hours_in_plain_words(speak):
    speak("en")
    until_six = HoursNow(HoursState.OPEN, until=datetime(2026, 12, 9, 17, 0, tzinfo=UTC))
    assert words.hours_words(until_six, NOW) == "Open now, until 6:00\u202fPM"
    closed = HoursNow(HoursState.CLOSED, opens=TUESDAY_10)
    assert words.hours_words(closed, MONDAY) == "Closed now. Opens tomorrow at 10:00\u202fAM."
    assert words.hours_words(closed, datetime(2026, 12, 5, 9, 0, tzinfo=UTC)) == (
        "Closed now. Opens Tuesday at 10:00\u202fAM."
    )
    works = HoursNow(HoursState.CLOSURE, opens=TUESDAY_10, reason="works")
    assert words.hours_words(works, MONDAY).startswith("Closed today (works). Opens tomorrow")
    assert words.hours_words(HoursNow(HoursState.UNKNOWN), NOW).startswith(
        "Opening hours not known"
    )


def test_hours_in_french_and_arabic(speak):
    speak("fr")
    closed = HoursNow(HoursState.CLOSED, opens=TUESDAY_10)
    assert words.hours_words(closed, datetime(2026, 12, 5, 9, 0, tzinfo=UTC)) == (
        "Fermé maintenant. Ouvre mardi à 10:00."
    )
    holiday = HoursNow(HoursState.HOLIDAY, opens=None)
    assert words.hours_words(holiday, NOW) == (
        "Fermé aujourd'hui (jour férié). Pas de réouverture prévue bientôt."
    )
    speak("ar")
    assert words.hours_words(closed, MONDAY).startswith("مغلق الآن. يفتح غدًا")


def test_live_state_in_words(speak):
    speak("en")
    state = LiveState(pcs_free=3, pcs_total=5, wifi=WifiState.ON, lockers_free=2, lockers_total=8)
    assert words.pcs_words(state) == "3 of 5 computers free"
    assert words.wifi_words(state) == "Wifi on"
    assert words.lockers_words(state) == "2 charging lockers free"
    assert words.lockers_words(LiveState(lockers_total=8)) == "No charging locker free"
    assert words.pcs_words(LiveState()) is None and words.wifi_words(LiveState()) is None
    speak("uk")
    assert words.lockers_words(LiveState(lockers_free=5, lockers_total=8)) == (
        "5 вільних шафок для заряджання"
    )


def test_distances_are_rounded_for_walkers(speak):
    speak("en")
    assert words.distance_words(347) == "350 m away"
    assert words.distance_words(1234) == "1.2 km away"
    speak("fr")
    assert words.distance_words(1234) == "à 1,2 km"
