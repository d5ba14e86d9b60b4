"""When the site last closed, from its OpenStreetMap opening hours: a phone deposited before
that moment and still in its locker was forgotten.

The expression is read as the portal reads it (:func:`captive_portal.hours.read_hours`, light:
the agent imports neither the portal's settings nor the controller) and evaluated by
opening-hours-py: in the site's time zone, with the public holidays of its country, "unknown"
hours (``Mo 10:00-12:00 unknown``) closed — nobody is there to hand a phone back. An empty
expression is a site that never closes: no phone is ever forgotten there (the longest charge,
``kiosk_max_charge_min``, still alerts staff).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from opening_hours import State

from captive_portal.hours import UnknownTimezone, UnreadableHours, read_hours

# How far back the last closing is looked for. A site closed for longer (a summer closure) has
# no "closing time" to compare with; its phones are past the longest charge long before.
LOOKBACK = timedelta(days=8)


class SiteHours:
    """A site's opening hours; :class:`ValueError` with a message for staff if they do not
    parse or the time zone is unknown."""

    def __init__(self, expression: str, timezone: str, country: str = "FR") -> None:
        try:
            self.zone, self.expression, self._hours = read_hours(expression, timezone, country)
        except UnknownTimezone as exc:
            raise ValueError(
                f"site_timezone must be a time zone such as Europe/Paris, got {timezone!r}"
            ) from exc
        except UnreadableHours as exc:
            raise ValueError(
                f"kiosk_opening_hours {expression!r} is not OpenStreetMap syntax "
                f"(for example 'Tu-Sa 10:00-18:00; PH off'): {exc}"
            ) from exc
        # (valid from, answer, valid until): the answer holds until the hours next change.
        self._cached: tuple[datetime, datetime | None, datetime | None] | None = None

    def closed_since(self, now: datetime) -> datetime | None:
        """The moment the site closed, if it is closed at ``now``; None while it is open, for a
        site that never closes, or one closed for longer than :data:`LOOKBACK`."""
        if self._hours is None:
            return None
        cached = self._cached
        if cached is not None and cached[0] <= now and (cached[2] is None or now < cached[2]):
            return cached[1]
        local = now.astimezone(self.zone)
        since: datetime | None = None
        if self._hours.state(local)[0] is not State.OPEN:
            for _begins, ends, state, _comment in self._hours.intervals(local - LOOKBACK, local):
                if state is State.OPEN and ends <= local:
                    since = ends
        until = self._hours.next_change(local)
        self._cached = (now, since, until)
        return since
