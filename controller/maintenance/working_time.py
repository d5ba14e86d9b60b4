"""Service-level clocks counted in a site's opening hours: when a ticket falls due, and how much
of its time has run.

Pure: no database, no clock; every instant comes in as an argument, timezone-aware, and every
instant returned is UTC. A technician cannot repair a PC in a locked library, so a ticket's clock
runs only while its site is open: a ticket opened Friday 17:00 with four working hours to solve,
at a site open ``Tu-Fr 10:00-20:00``, uses three hours on Friday and is due Tuesday 11:00.

Rules, the schedule's own (``controller.places.opening_hours`` says why each holds):

- Working time is time the site is open to the public. Exceptional closures (whole local days)
  and public holidays (closed unless the expression mentions ``PH``) are not working time, nor
  are "unknown" hours.
- A site without opening hours (an empty expression) counts calendar time, round the clock, as
  ``24/7`` does: every day, public holidays included. Its exceptional closures still stop the
  clock: a closed site is closed whatever its hours say.
- Working time is time that really passes, not a difference of wall-clock readings: an opening
  from 22:00 to 06:00 lasts seven hours on the night clocks go forward and nine on the night they
  go back, and an opening at 10:00 is at 10:00 local time on either side of the change.
- A pause (the ticket waits for the resident, for a part) stops the clock for the open time it
  covers; a pause at night costs nothing. Pauses may overlap. One without an end (the ticket is
  waiting now) runs to the end of what is measured, and stops a due date for good.
- Looking ahead for open time gives up after a year without any (``off``, hours of a past year,
  a closure longer than a year) with a ``DomainError`` that says so, rather than search forever.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from controller.errors import DomainError
from controller.i18n import _
from controller.places.opening_hours import (
    NEXT_OPENING_HORIZON,
    Closure,
    SchedulePolicy,
    open_intervals,
    validate_opening_hours,
)

# A ticket's waiting spells: from when it waited to when it resumed, None while it still waits.
Pause = tuple[datetime, datetime | None]
Interval = tuple[datetime, datetime]

ROUND_THE_CLOCK = "24/7"
# How far to look without any open time before calling the hours closed for good.
SEARCH_HORIZON = NEXT_OPENING_HORIZON
# Open time is evaluated a month at a time: about 0.3 ms per month here, and most service levels
# fall due within one (a year at once costs 3 ms).
_SEARCH_STEP = timedelta(days=31)


class WorkingCalendar:
    """A site's working time: its opening hours in ``timezone``, less its closures and holidays.

    An empty ``opening_hours`` counts calendar time (``24/7``: round the clock, public holidays
    included, closures still closed). ``policy`` gives the country whose public holidays close
    the site; its timezone is replaced by ``timezone``, the site's. A badly written expression or
    an unknown timezone raises ``DomainError`` here, at once.
    """

    def __init__(
        self,
        opening_hours: str,
        timezone: str,
        closures: Sequence[Closure] = (),
        policy: SchedulePolicy | None = None,
    ) -> None:
        self.opening_hours = opening_hours
        self.closures = tuple(closures)
        self.policy = replace(policy or SchedulePolicy(), timezone=timezone)
        self._expression = opening_hours.strip() or ROUND_THE_CLOCK
        validate_opening_hours(self._expression)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has passed since ``start``, in UTC.

        A start outside opening hours counts from the next opening; a zero duration answers that
        opening (or ``start`` itself during opening hours). A duration used up exactly at a
        closing answers the closing, not the next opening.
        """
        reached = self._reach(start, duration, ())
        if reached is None:  # only an open-ended pause stops the clock for good
            raise AssertionError("the clock stopped without a pause")
        return reached

    def elapsed(self, start: datetime, end: datetime, paused: Sequence[Pause] = ()) -> timedelta:
        """Working time in ``[start, end)``, less what ``paused`` covers of it.

        A pause without an end runs to ``end``. An ``end`` at or before ``start`` answers zero,
        and so do hours that never open: nothing is searched beyond ``end``.
        """
        _require_aware(start=start, end=end)
        _check_pauses(paused)
        if end <= start:
            return timedelta(0)
        pauses = [(begins, end if ends is None else ends) for begins, ends in paused]
        counted = _cut(self._open(start, end), pauses)
        return sum((b - a for a, b in counted), timedelta(0))

    def due(
        self, start: datetime, duration: timedelta, paused: Sequence[Pause] = ()
    ) -> datetime | None:
        """When a clock started at ``start`` and stopped during ``paused`` has run ``duration``:
        ``add``, pushed later by the working time the pauses cover.

        None while an open-ended pause holds the clock before it has run out: the ticket waits
        and nobody can say when it resumes. For the due date if it resumed now, pass that pause
        ending now. A pause that begins after the clock ran out changes nothing.
        """
        return self._reach(start, duration, paused)

    # --- internals -----------------------------------------------------------------------------

    def _open(self, start: datetime, end: datetime) -> list[Interval]:
        return open_intervals(
            self._expression, start, end, policy=self.policy, closures=self.closures
        )

    def _reach(
        self, start: datetime, duration: timedelta, paused: Sequence[Pause]
    ) -> datetime | None:
        _require_aware(start=start)
        _check_pauses(paused)
        if duration < timedelta(0):
            raise ValueError(f"duration cannot be negative, got {duration!r}")
        left = duration
        for a, b in self._counting(start, paused):
            if b - a >= left:
                return (a + left).astimezone(UTC)
            left -= b - a
        return None

    def _counting(self, start: datetime, paused: Sequence[Pause]) -> Iterator[Interval]:
        """Working stretches from ``start`` on, in order, paused time cut out; they end where
        an open-ended pause begins, else go on until a year passes without any open time."""
        stop = min((p for p, q in paused if q is None), default=None)
        pauses = [(p, q) for p, q in paused if q is not None]
        last_open = cursor = start
        while stop is None or cursor < stop:
            step_end = cursor + _SEARCH_STEP if stop is None else min(cursor + _SEARCH_STEP, stop)
            opened = self._open(cursor, step_end)
            if opened:
                last_open = opened[-1][1]
            elif step_end - last_open >= SEARCH_HORIZON:
                raise DomainError(self._never_open_message(last_open))
            yield from _cut(opened, pauses)
            cursor = step_end

    def _never_open_message(self, since: datetime) -> str:
        return _(
            "opening hours %(expr)s are not open once in the year from %(day)s, closures and "
            "public holidays counted, so no service-level clock can run there: correct the "
            "site's opening hours or its closures",
            expr=repr(self.opening_hours),
            day=since.astimezone(self.policy.zone).date().isoformat(),
        )


def _require_aware(**instants: datetime) -> None:
    for name, value in instants.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _check_pauses(paused: Sequence[Pause]) -> None:
    for begins, ends in paused:
        _require_aware(pause_start=begins)
        if ends is not None:
            _require_aware(pause_end=ends)
            if ends < begins:
                raise ValueError(f"a pause ends ({ends!r}) before it begins ({begins!r})")


def _cut(stretches: list[Interval], pauses: list[Interval]) -> list[Interval]:
    """``stretches`` less what ``pauses`` cover. Pauses are cut out one after the other, so
    overlapping pauses are not counted twice."""
    for p_start, p_end in pauses:
        kept: list[Interval] = []
        for a, b in stretches:
            if b <= p_start or a >= p_end:
                kept.append((a, b))
                continue
            if a < p_start:
                kept.append((a, p_start))
            if b > p_end:
                kept.append((p_end, b))
        stretches = kept
    return stretches
