"""The public pages' plain words, in the page's language: whether a place is open ("open now,
until 18:00", "opens Tuesday at 10:00", "closed today (works)"), its live state ("3 of 5 PCs
free", "wifi on", "2 lockers free"), how far it is, and what it offers with its pictogram.

Short sentences a person who reads little of the language understands: no abbreviations, the
day spelt out, times as the locale writes them. Instants are UTC; they are shown in the city's
time zone (Flask-Babel's, from the ``timezone`` setting).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import LazyString, format_date, format_decimal, format_time, to_user_timezone

from controller.i18n import _, _l, ngettext
from controller.public_places.service import (
    DayOpening,
    HoursNow,
    HoursState,
    LiveState,
    Offer,
    WifiState,
)

# What a place offers, in words and a pictogram of static/vendor/lucide/sprite.svg; the
# pictogram stands beside the words, never instead of them.
OFFERS: dict[Offer, tuple[LazyString, str]] = {
    Offer.FREE_PCS: (_l("Free computers"), "monitor"),
    Offer.ACCOMPANIED: (_l("Help from a person"), "users"),
    Offer.WIFI: (_l("Free wifi"), "wifi"),
    Offer.CHARGING: (_l("Phone charging"), "battery-charging"),
}
WEEK_AHEAD = timedelta(days=6)  # within it, a day is named ("Tuesday"); beyond, dated


def hours_words(hours: HoursNow, now: datetime) -> str:
    """Whether the place is open, in one short sentence."""
    match hours.state:
        case HoursState.ROUND_THE_CLOCK:
            return _("Open now, day and night")
        case HoursState.OPEN:
            assert hours.until is not None
            # Closing at midnight is still tonight.
            if _local_day(hours.until - timedelta(microseconds=1)) == _local_day(now):
                return _("Open now, until %(time)s", time=_clock(hours.until))
            return _("Open now, until %(when)s", when=when_words(hours.until, now))
        case HoursState.UNKNOWN:
            return _("Opening hours not known: phone before coming")
    closed = {
        HoursState.CLOSURE: (
            _("Closed today (%(reason)s)", reason=hours.reason)
            if hours.reason
            else _("Closed today")
        ),
        HoursState.HOLIDAY: _("Closed today (public holiday)"),
        HoursState.CLOSED: _("Closed now"),
    }[hours.state]
    if hours.opens is None:
        return _("%(closed)s. Not open again soon.", closed=closed)
    return _("%(closed)s. Opens %(when)s.", closed=closed, when=when_words(hours.opens, now))


def when_words(moment: datetime, now: datetime) -> str:
    """``today at 14:00``, ``tomorrow at 10:00``, ``Tuesday at 10:00``, ``on 3 March at 10:00``."""
    day, today = _local_day(moment), _local_day(now)
    clock = _clock(moment)
    if day == today:
        return _("today at %(time)s", time=clock)
    if day == today + timedelta(days=1):
        return _("tomorrow at %(time)s", time=clock)
    if day <= today + WEEK_AHEAD:
        return _("%(day)s at %(time)s", day=format_date(day, "EEEE"), time=clock)
    return _("on %(date)s at %(time)s", date=format_date(day, "d MMMM"), time=clock)


def pcs_words(state: LiveState) -> str | None:
    if not state.pcs_total:
        return None
    return ngettext(
        "%(free)d of %(num)d computer free",
        "%(free)d of %(num)d computers free",
        state.pcs_total,
        free=state.pcs_free,
    )


def wifi_words(state: LiveState) -> str | None:
    if state.wifi is None:
        return None
    return _("Wifi on") if state.wifi is WifiState.ON else _("Wifi off for now")


def lockers_words(state: LiveState) -> str | None:
    if not state.lockers_total:
        return None
    if not state.lockers_free:
        return _("No charging locker free")
    return ngettext(
        "%(num)d charging locker free", "%(num)d charging lockers free", state.lockers_free
    )


def distance_words(metres: float) -> str:
    """``350 m away``, ``1.2 km away``: rounded as a walker reads a sign."""
    if metres < 1000:
        return _("%(distance)s m away", distance=format_decimal(round(metres, -1)))
    return _("%(distance)s km away", distance=format_decimal(round(metres / 1000, 1)))


def day_words(day: DayOpening) -> str:
    """One day of the week table: ``10:00 to 12:00, 14:00 to 18:00``, or why it is closed."""
    if day.ranges:
        return ", ".join(
            _("%(opens)s to %(closes)s", opens=_clock_of(a), closes=_clock_of(b))
            for a, b in day.ranges
        )
    if day.closure is not None:
        return _("Closed (%(reason)s)", reason=day.closure) if day.closure else _("Closed")
    return _("Closed")


def _local_day(moment: datetime) -> date:
    local: datetime = to_user_timezone(moment)
    return local.date()


def _clock(moment: datetime) -> str:
    return str(format_time(moment, "short"))


def _clock_of(local: time) -> str:
    """A local time of day as the locale writes it (an end at midnight is 24:00's 00:00)."""
    return str(format_time(datetime.combine(datetime(2000, 1, 3), local), "short", rebase=False))


def day_name(day: date) -> str:
    """``Tuesday 12 March``: a row of the week table."""
    text = str(format_date(day, "EEEE d MMMM"))
    return text[:1].upper() + text[1:]
