"""Whether the hotspot is open now, and when it opens next, from the site's OSM opening hours.

Uses opening-hours-py (the Rust ``opening-hours`` crate) directly, as the controller's schedules
do; the portal must not import the controller, which is not installed on a hotspot. The
expression is evaluated as written, in the site's timezone, with the public holidays of the
hotspot's country: write ``PH off`` in it if the site closes on public holidays. "unknown" hours
(``Mo 10:00-12:00 unknown``) count as closed: nobody is there to help.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opening_hours import OpeningHours, State

from borne.settings import ImproperlyConfigured

NEXT_OPENING_HORIZON = timedelta(days=366)


class UnknownTimezone(ValueError):
    """Not a time zone ``zoneinfo`` knows."""


class UnreadableHours(ValueError):
    """Not OpenStreetMap ``opening_hours`` syntax; the message is the parser's."""


def read_hours(
    expression: str, timezone: str, country: str
) -> tuple[ZoneInfo, str, OpeningHours | None]:
    """The time zone, the expression as evaluated and its hours (None when empty: always
    open), read the one way the portal and the kiosk read a site's hours; each caller words the
    errors for its own readers."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimezone(timezone) from exc
    expression = expression.strip()
    if not expression:
        return zone, expression, None
    try:
        hours = OpeningHours(
            expression, timezone=zone, country=country, auto_country=False, auto_timezone=False
        )
    except Exception as exc:  # opening_hours.ParserError is missing from its stubs
        raise UnreadableHours(str(exc)) from exc
    return zone, expression, hours


class OpeningSchedule:
    """A site's opening hours; an empty expression means always open."""

    def __init__(self, expression: str, timezone: str, country: str) -> None:
        try:
            self.zone, self.expression, self._hours = read_hours(expression, timezone, country)
        except UnknownTimezone as exc:
            raise ImproperlyConfigured(
                f"setting timezone must be a name such as 'Europe/Paris', got {timezone!r}"
            ) from exc
        except UnreadableHours as exc:
            raise ImproperlyConfigured(
                f"setting opening_hours {expression!r} is not OpenStreetMap syntax "
                f"(for example 'Tu-Sa 10:00-18:00; PH off'): {exc}"
            ) from exc

    def is_open(self, at: datetime) -> bool:
        if self._hours is None:
            return True
        return self._hours.state(at.astimezone(self.zone))[0] is State.OPEN

    def next_opening(self, after: datetime) -> datetime | None:
        """The next instant the site opens (UTC), or None if not within a year or always open."""
        if self._hours is None:
            return None
        start = after.astimezone(self.zone)
        was_open = True  # a stretch already open at ``after`` is not an opening
        for begins, _ends, state, _comment in self._hours.intervals(
            start, start + NEXT_OPENING_HORIZON
        ):
            is_open = state is State.OPEN
            if is_open and not was_open:
                return begins.astimezone(UTC)
            was_open = is_open
        return None

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)
