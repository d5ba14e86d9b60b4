"""The public places near a closed hotspot, for its "closed" page: which of them are open now (and
until when), else which open next, from their OpenStreetMap hours.

Worked out on the gateway, offline: while the hotspot is closed its clients are not online, so
the page cannot send them to the controller's list. The places and their hours come from the
controller (``nearby_places``, the nearest public places); their exceptional closures do not,
so the page says "opening hours" and links to the list, which knows them. A place whose hours
cannot be read is left out rather than shown wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opening_hours import State

from captive_portal.hours import UnknownTimezone, UnreadableHours, read_hours
from captive_portal.managed import NearbyPlace

SHOWN = 3  # a short list: the closed page is read on a phone, standing at the door
LOOK_AHEAD = timedelta(days=8)
ROUND_THE_CLOCK = timedelta(days=7)


@dataclass(frozen=True)
class PlaceNow:
    """A nearby place at an instant: open until ``until`` (None: day and night), or opening at
    ``opens`` (UTC)."""

    place: NearbyPlace
    open: bool
    until: datetime | None = None
    opens: datetime | None = None


def open_or_next(
    places: tuple[NearbyPlace, ...], now: datetime, timezone: str, country: str
) -> list[PlaceNow]:
    """Up to :data:`SHOWN` places: those open now, nearest first; then those opening soonest."""
    found = [
        state for place in places if (state := place_now(place, now, timezone, country)) is not None
    ]
    opened = sorted((s for s in found if s.open), key=lambda s: s.place.distance_m)
    later = sorted(
        (s for s in found if not s.open and s.opens is not None),
        key=lambda s: (s.opens, s.place.distance_m),
    )
    return [*opened, *later][:SHOWN]


def place_now(place: NearbyPlace, now: datetime, timezone: str, country: str) -> PlaceNow | None:
    """Whether ``place`` is open at ``now``; None when its hours cannot be read."""
    try:
        zone, _expression, hours = read_hours(place.opening_hours, timezone, country)
    except (UnknownTimezone, UnreadableHours):
        return None
    if hours is None:
        return None
    start = now.astimezone(zone)
    for begins, ends, state, _comment in hours.intervals(start, start + LOOK_AHEAD):
        if state is not State.OPEN:
            continue
        if begins <= start:
            round_the_clock = ends - start >= ROUND_THE_CLOCK
            return PlaceNow(place, True, until=None if round_the_clock else ends.astimezone(UTC))
        return PlaceNow(place, False, opens=begins.astimezone(UTC))
    return PlaceNow(place, False)
