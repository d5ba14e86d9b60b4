"""When a site's PCs wake, shut down and get their nightly maintenance, from its opening hours.

Pure: no database, no clock; every instant comes in as an argument. Opening hours are
OpenStreetMap ``opening_hours`` expressions (``Tu-Sa 10:00-18:00; PH off``), evaluated by
opening-hours-py (the Rust ``opening-hours`` crate), which also knows the public holidays ("PH")
of the site's country. Hours are local to the site (``SchedulePolicy.timezone``); every datetime
this module returns is timezone-aware UTC, and DST changes fall where they should because local
times are converted by ``zoneinfo``, never by adding fixed offsets.

Rules, in the words of the people who run the sites:

- PCs are woken ``wake_before`` an opening and shut down ``shutdown_after`` a closing; a break
  shorter than ``min_gap`` (lunch) keeps them up.
- French libraries and community centres close on public holidays, and most OSM expressions do
  not say so: with ``holidays_closed=True`` (the default) a public holiday is closed unless the
  expression mentions ``PH`` itself (``PH 10:00-12:00`` opens, ``PH off`` closes). A round-the-clock
  expression (``24/7``, outdoor wifi) is the exception: it means every day, holidays included.
- An exceptional closure (``Closure``) closes whole local days, from midnight to midnight.
- Maintenance runs at ``maintenance_at`` local time each night the site is closed for the whole
  window and no wake falls inside it. A round-the-clock site (any stretch of at least 24 hours
  of continuous opening, such as ``24/7``) never closes, so it gets its maintenance then anyway;
  it is never woken or shut down except around an exceptional closure.
- "unknown" hours (``Mo 10:00-12:00 unknown``, a ``|| "on appointment"`` fallback) count as closed:
  nobody is there to welcome the public, so PCs stay off. Fallback rules (after ``||``) are
  validated but not evaluated, see ``_without_fallback``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opening_hours import OpeningHours, State

from controller.errors import DomainError
from controller.i18n import _

MAX_EXPRESSION_LENGTH = 500  # Site.opening_hours is a String(500)
SYNTAX_HELP = "https://wiki.openstreetmap.org/wiki/Key:opening_hours"
NEXT_OPENING_HORIZON = timedelta(days=366)


class ScheduledAction(StrEnum):
    WAKE = "wake"
    SHUTDOWN = "shutdown"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class SchedulePolicy:
    """How a site's PCs follow its opening hours; durations are ``timedelta``, times local."""

    wake_before: timedelta = timedelta(minutes=15)
    shutdown_after: timedelta = timedelta(minutes=15)
    min_gap: timedelta = timedelta(hours=2)
    maintenance_at: time = time(2, 0)
    maintenance_duration: timedelta = timedelta(hours=2)
    timezone: str = "Europe/Paris"
    country: str = "FR"

    def __post_init__(self) -> None:
        for name in ("wake_before", "shutdown_after", "min_gap"):
            if getattr(self, name) < timedelta(0):
                raise DomainError(f"schedule policy: {name} cannot be negative")
        if self.maintenance_duration <= timedelta(0):
            raise DomainError("schedule policy: maintenance_duration must be longer than zero")
        if self.maintenance_at.tzinfo is not None:
            raise DomainError(
                "schedule policy: maintenance_at is a local time of the site; give no timezone"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise DomainError(
                f"schedule policy: unknown timezone {self.timezone!r} (expected a name such as "
                "'Europe/Paris')"
            ) from exc
        if not re.fullmatch(r"[A-Z]{2}", self.country):
            raise DomainError(
                f"schedule policy: country {self.country!r} is not a two-letter ISO code "
                "such as 'FR'"
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Closure:
    """An exceptional closure of a site, from ``starts_on`` to ``ends_on`` included (local days)."""

    starts_on: date
    ends_on: date
    reason: str

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise DomainError(
                _(
                    "closure %(reason)s: it ends (%(last)s) before it starts (%(first)s)",
                    reason=repr(self.reason),
                    last=self.ends_on.isoformat(),
                    first=self.starts_on.isoformat(),
                )
            )


@dataclass(frozen=True)
class PlannedAction:
    at: datetime  # UTC
    action: ScheduledAction
    reason: str


def validate_opening_hours(expr: str) -> None:
    """Refuse an opening-hours expression that is not OpenStreetMap syntax.

    An empty expression is valid: it means the site has no schedule. The message says where the
    expression goes wrong and how to write it, for the import of places and the site form.
    """
    if not expr.strip():
        return
    if len(expr) > MAX_EXPRESSION_LENGTH:
        raise DomainError(
            _(
                "opening hours are %(length)d characters long; at most %(most)d fit",
                length=len(expr),
                most=MAX_EXPRESSION_LENGTH,
            )
        )
    _parse(expr, SchedulePolicy())


@dataclass(frozen=True)
class DayHours:
    """One local day of a site: its open stretches as local times (an end at 00:00 is midnight)."""

    day: date
    ranges: tuple[tuple[time, time], ...]


def opening_week(
    expr: str, first_day: date, policy: SchedulePolicy | None = None
) -> list[DayHours]:
    """The seven local days from ``first_day``: when the site is open on each, for people
    ("Tuesday 10:00 to 18:00"), public holidays of the policy's country included."""
    policy = policy or SchedulePolicy()
    zone = policy.zone
    days = [first_day + timedelta(days=n) for n in range(7)]
    if not expr.strip():
        return [DayHours(day, ()) for day in days]
    hours = _parse(expr, policy)
    week: list[DayHours] = []
    for day in days:
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        ranges = []
        for a, b, state, _comment in hours.intervals(start, end):
            if state is State.OPEN:
                ranges.append((a.astimezone(zone).time(), b.astimezone(zone).time()))
        week.append(DayHours(day, tuple(ranges)))
    return week


def planned_actions(
    opening_hours: str,
    start: datetime,
    end: datetime,
    *,
    policy: SchedulePolicy,
    closures: Sequence[Closure] = (),
    holidays_closed: bool = True,
) -> list[PlannedAction]:
    """What should happen to a site's PCs in ``[start, end)``, in time order, in UTC.

    ``start`` and ``end`` are timezone-aware. An empty expression plans nothing. The plan does
    not depend on the range asked: hours just outside it are looked at to decide whether a break
    is long enough to shut down, and no action is made up at ``start``, so a scheduler that
    replans often can deduplicate on ``(at, action)``.

    Closures: nothing is planned on a closed day, neither wake nor shutdown. A closure that
    begins while the opening hours have PCs up (overnight hours, ``24/7``) cuts that opening: the
    shutdown comes ``shutdown_after`` past the closure's start. A closure recorded during the day,
    after the morning wake, is not visible in a plan: ask ``should_be_up(now)`` when saving it and
    shut the site's PCs down if it answers False.
    """
    _require_aware(start=start, end=end)
    if end <= start or not opening_hours.strip():
        return []
    sessions = _effective_sessions(opening_hours, start, end, policy, closures, holidays_closed)
    actions: list[PlannedAction] = []
    for session in sessions:
        actions.append(PlannedAction(session.wake, ScheduledAction.WAKE, session.wake_reason))
        actions.append(
            PlannedAction(session.shutdown, ScheduledAction.SHUTDOWN, session.shutdown_reason)
        )
    actions.extend(_maintenance(sessions, start, end, policy))
    planned = [a for a in actions if start <= a.at < end]
    return sorted(planned, key=lambda a: (a.at, _ACTION_ORDER[a.action]))


def should_be_up(
    opening_hours: str,
    at: datetime,
    *,
    policy: SchedulePolicy,
    closures: Sequence[Closure] = (),
    holidays_closed: bool = True,
) -> bool:
    """Whether the plan has the site's PCs up at ``at``: between a wake and its shutdown.

    Maintenance windows are not counted. An empty expression answers False (no schedule: the
    caller leaves the PCs alone).
    """
    _require_aware(at=at)
    if not opening_hours.strip():
        return False
    sessions = _effective_sessions(opening_hours, at, at, policy, closures, holidays_closed)
    return any(s.covers(at) for s in sessions)


def is_open(
    opening_hours: str,
    at: datetime,
    *,
    policy: SchedulePolicy,
    closures: Sequence[Closure] = (),
    holidays_closed: bool = True,
) -> bool:
    """Whether the site is open to the public at ``at`` (aware), closures and holidays counted.

    An empty expression answers False: the hours are unknown, so callers that change behaviour
    when a site is closed (the portal's "closed" mode) should check for an empty expression first.
    """
    _require_aware(at=at)
    if not opening_hours.strip():
        return False
    return any(
        a <= at < b
        for a, b, _ in _effective_open(
            opening_hours,
            at - timedelta(days=1),
            at + timedelta(days=1),
            policy,
            closures,
            holidays_closed,
        )
    )


def next_opening(
    opening_hours: str,
    after: datetime,
    *,
    policy: SchedulePolicy,
    closures: Sequence[Closure] = (),
    holidays_closed: bool = True,
) -> datetime | None:
    """The first instant at or after ``after`` when the site opens (closed just before), in UTC.

    If the site is open at ``after``, that is the opening after the current one. None when it does
    not open within a year: an empty expression, a site closed for good, or one that never closes
    (``24/7``).
    """
    _require_aware(after=after)
    if not opening_hours.strip():
        return None
    look_from = after - timedelta(days=1)
    pieces = _effective_open(
        opening_hours, look_from, after + NEXT_OPENING_HORIZON, policy, closures, holidays_closed
    )
    # A piece starting at look_from was cut there by the range, it is not an opening.
    return next((a for a, _, _ in pieces if a >= after and a > look_from), None)


# --- internals ---------------------------------------------------------------------------------

_ACTION_ORDER = {
    ScheduledAction.SHUTDOWN: 0,
    ScheduledAction.MAINTENANCE: 1,
    ScheduledAction.WAKE: 2,
}
_COMMENT = re.compile(r'"[^"]*"')
_PUBLIC_HOLIDAY = re.compile(r"\bPH\b")
_POSITION = re.compile(r"-->\s*(\d+):(\d+)")
# Lowercase abbreviations only: "Mar" is March in OSM syntax.
_FRENCH_DAY = re.compile(
    r"\b([Ll]undi|[Mm]ardi|[Mm]ercredi|[Jj]eudi|[Vv]endredi|[Ss]amedi|[Dd]imanche"
    r"|lun|mar|mer|jeu|ven|sam|dim)\b"
)

# Open stretch (UTC, half-open) and why it ends: None for the hours' own closing, else the
# reason of the closed window that cuts it.
_Piece = tuple[datetime, datetime, str | None]
_Window = tuple[datetime, datetime, str]


@dataclass(frozen=True)
class _Session:
    """Open stretches close enough together that the PCs stay up from the first to the last."""

    opens: datetime
    closes: datetime
    closing_reason: str | None
    zone: ZoneInfo
    wake: datetime
    shutdown: datetime

    def covers(self, at: datetime) -> bool:
        return self.wake <= at < self.shutdown

    @property
    def wake_reason(self) -> str:
        return str(_("opens at %(time)s", time=self.opens.astimezone(self.zone).strftime("%H:%M")))

    @property
    def shutdown_reason(self) -> str:
        if self.closing_reason is not None:
            return self.closing_reason
        return str(
            _("closes at %(time)s", time=self.closes.astimezone(self.zone).strftime("%H:%M"))
        )


def _require_aware(**instants: datetime) -> None:
    for name, value in instants.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _parse(expr: str, policy: SchedulePolicy) -> OpeningHours:
    try:
        # auto_* off: without coordinates they guess nothing, and we want the policy's word.
        return OpeningHours(
            expr,
            timezone=policy.zone,
            country=policy.country,
            auto_country=False,
            auto_timezone=False,
        )
    except Exception as exc:  # opening_hours.ParserError is missing from the library's stubs
        raise DomainError(_syntax_message(expr, str(exc))) from exc


def _syntax_message(expr: str, detail: str) -> str:
    hints = []
    if re.search(r"\d\s*h\s*\d*", expr):
        hints.append(_("write times as 10:00, not 10h"))
    if _FRENCH_DAY.search(expr):
        hints.append(_("days are Mo Tu We Th Fr Sa Su"))
    hints.append(
        _(
            "for example %(one)s or %(other)s",
            one="'Tu-Sa 10:00-18:00'",
            other="'Mo-Fr 09:00-12:00,13:30-17:30; PH off'",
        )
    )
    words = {"expr": repr(expr), "hints": "; ".join(hints), "help": SYNTAX_HELP}
    position = _POSITION.search(detail)
    if position is not None and position.group(1) == "1":
        column = int(position.group(2))
        return str(
            _(
                "opening hours %(expr)s are not in OpenStreetMap syntax at character %(column)d "
                "(%(excerpt)s); %(hints)s (see %(help)s)",
                column=column,
                excerpt=repr(expr[column - 1 : column + 11]),
                **words,
            )
        )
    # Errors without a position read as a sentence already ("Inverted year ranges …"), in the
    # library's English.
    reason = detail.removeprefix("Failed to parse expression:").strip()
    if reason and "\n" not in reason:
        return str(
            _(
                "opening hours %(expr)s are not in OpenStreetMap syntax: %(reason)s; %(hints)s "
                "(see %(help)s)",
                reason=reason,
                **words,
            )
        )
    return str(
        _(
            "opening hours %(expr)s are not in OpenStreetMap syntax; %(hints)s (see %(help)s)",
            **words,
        )
    )


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _day_window(first: date, last: date, zone: ZoneInfo, reason: str) -> _Window:
    return (_local_midnight(first, zone), _local_midnight(last + timedelta(days=1), zone), reason)


def _open_pieces(
    hours: OpeningHours, start: datetime, end: datetime, zone: ZoneInfo
) -> list[_Piece]:
    """Open stretches of the expression alone in ``[start, end)``, UTC, adjacent ones joined."""
    pieces: list[_Piece] = []
    # The library wants datetimes in a ZoneInfo that has a key, so convert to the site's zone.
    for a, b, state, _comment in hours.intervals(start.astimezone(zone), end.astimezone(zone)):
        if state is not State.OPEN:
            continue
        a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
        if pieces and pieces[-1][1] >= a_utc:
            pieces[-1] = (pieces[-1][0], max(pieces[-1][1], b_utc), None)
        else:
            pieces.append((a_utc, b_utc, None))
    return pieces


def _is_round_the_clock(hours: OpeningHours) -> bool:
    return str(hours.normalize()) == "24/7"


def _closed_windows(
    expr: str,
    hours: OpeningHours,
    start: datetime,
    end: datetime,
    policy: SchedulePolicy,
    closures: Sequence[Closure],
    holidays_closed: bool,
) -> list[_Window]:
    """Whole local days closed in ``[start, end)``: exceptional closures, then implied holidays."""
    zone = policy.zone
    windows = [
        _day_window(
            c.starts_on,
            c.ends_on,
            zone,
            _("closure: %(reason)s", reason=c.reason) if c.reason else _("closure"),
        )
        for c in closures
    ]
    explicit = _PUBLIC_HOLIDAY.search(_COMMENT.sub("", expr)) is not None
    if holidays_closed and not explicit and not _is_round_the_clock(hours):
        calendar = _parse("PH", policy)  # the library's public holidays of policy.country
        for a, b, state, _comment in calendar.intervals(
            start.astimezone(zone), end.astimezone(zone)
        ):
            if state is State.OPEN:
                last = (b - timedelta(microseconds=1)).date()
                windows.append(_day_window(a.date(), last, zone, _("public holiday")))
    return sorted(windows)


def _subtract(pieces: list[_Piece], windows: list[_Window]) -> list[_Piece]:
    """Cut closed windows out of open pieces; a piece cut short ends for the window's reason."""
    for w_start, w_end, reason in windows:
        kept: list[_Piece] = []
        for a, b, why in pieces:
            if b <= w_start or a >= w_end:
                kept.append((a, b, why))
                continue
            if a < w_start:
                kept.append((a, w_start, reason))
            if b > w_end:
                kept.append((w_end, b, why))
        pieces = kept
    return pieces


def _sessions(pieces: list[_Piece], policy: SchedulePolicy) -> list[_Session]:
    """Join pieces across breaks too short to shut down, and place each wake and shutdown."""
    zone = policy.zone
    joined: list[_Piece] = []
    for a, b, why in pieces:
        if joined:
            previous_end = joined[-1][1]
            gap = a - previous_end
            # Also join when the shutdown would not come before the next wake (tiny min_gap).
            if gap < policy.min_gap or gap <= policy.wake_before + policy.shutdown_after:
                joined[-1] = (joined[-1][0], b, why)
                continue
        joined.append((a, b, why))
    return [
        _Session(
            opens=a,
            closes=b,
            closing_reason=why,
            zone=zone,
            wake=a - policy.wake_before,
            shutdown=b + policy.shutdown_after,
        )
        for a, b, why in joined
    ]


def _maintenance(
    sessions: list[_Session], start: datetime, end: datetime, policy: SchedulePolicy
) -> list[PlannedAction]:
    zone = policy.zone
    duration = policy.maintenance_duration
    reason = _(
        "nightly maintenance, %(time)s for %(duration)s",
        time=policy.maintenance_at.strftime("%H:%M"),
        duration=_format_duration(duration),
    )
    planned = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        # A local time that does not exist (spring forward) resolves to the instant after the
        # gap; one that happens twice (fall back) to its first occurrence (fold=0).
        at = datetime.combine(day, policy.maintenance_at, tzinfo=zone).astimezone(UTC)
        if _maintenance_fits(at, at + duration, sessions):
            planned.append(PlannedAction(at, ScheduledAction.MAINTENANCE, reason))
        day += timedelta(days=1)
    return planned


def _maintenance_fits(begins: datetime, ends: datetime, sessions: list[_Session]) -> bool:
    for session in sessions:
        if ends <= session.wake or begins > session.shutdown:
            continue  # the window is wholly outside this session
        round_the_clock = session.closes - session.opens >= timedelta(days=1)
        inside = session.wake < begins and ends <= session.shutdown
        return round_the_clock and inside
    return True


def _format_duration(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if minutes == 0:
        return f"{hours} h"
    return f"{hours} h {minutes:02d}" if hours else f"{minutes} min"


def _effective_sessions(
    expr: str,
    start: datetime,
    end: datetime,
    policy: SchedulePolicy,
    closures: Sequence[Closure],
    holidays_closed: bool,
) -> list[_Session]:
    """PCs-up sessions around ``[start, end]``, widened so that edges are decided as in a longer
    range (a break just before ``start`` may be too short to shut down)."""
    margin = (
        timedelta(days=2)
        + policy.min_gap
        + policy.wake_before
        + policy.shutdown_after
        + policy.maintenance_duration
    )
    pieces = _effective_open(expr, start - margin, end + margin, policy, closures, holidays_closed)
    return _sessions(pieces, policy)


def _effective_open(
    expr: str,
    start: datetime,
    end: datetime,
    policy: SchedulePolicy,
    closures: Sequence[Closure],
    holidays_closed: bool,
) -> list[_Piece]:
    expr = _without_fallback(expr)
    hours = _parse(expr, policy)
    windows = _closed_windows(expr, hours, start, end, policy, closures, holidays_closed)
    return _subtract(_open_pieces(hours, start, end, policy.zone), windows)


def _without_fallback(expr: str) -> str:
    """The rules before a ``||`` fallback rule, which are all that is evaluated.

    opening-hours-py 2.1 gets fallback rules wrong: ``Mo-Fr 09:00-18:00 || "sur rendez-vous"``
    comes out closed from the second day of a range on, and open all weekend at single instants.
    A fallback almost always says "on appointment" (unknown, hence closed for us), so dropping it
    costs nothing; a rare fallback that opens (``|| Sa 10:00-12:00``) is lost.
    """
    in_comment = False
    for i, char in enumerate(expr):
        if char == '"':
            in_comment = not in_comment
        elif not in_comment and expr.startswith("||", i):
            return expr[:i].rstrip()
    return expr


def open_intervals(
    opening_hours: str,
    start: datetime,
    end: datetime,
    *,
    policy: SchedulePolicy,
    closures: Sequence[Closure] = (),
    holidays_closed: bool = True,
) -> list[tuple[datetime, datetime]]:
    """When the site is open to the public in ``[start, end)`` (aware): UTC ``[opens, closes)``
    pairs in time order, cut at ``start`` and ``end``, adjacent ones joined.

    Closures and public holidays close as for ``is_open``, and "unknown" hours count as closed.
    An empty expression answers ``[]``, as ``is_open`` answers False: a caller that gives a site
    without hours another meaning (round the clock, say) passes ``"24/7"`` instead.
    """
    _require_aware(start=start, end=end)
    if end <= start or not opening_hours.strip():
        return []
    pieces = _effective_open(opening_hours, start, end, policy, closures, holidays_closed)
    return [(a, b) for a, b, _ in pieces]
